"""Usage and cost reports, in the shapes of OpenAI's Administration API. Every count defaults."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from keyplane.sdk.models import Model


class CompletionsUsage(Model):
    """Completions usage in one bucket, for one group when the query asked for ``group_by``."""

    object: str = "organization.usage.completions.result"
    input_tokens: int = 0
    output_tokens: int = 0
    input_cached_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    num_model_requests: int = 0
    project_id: str | None = None
    user_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None
    batch: bool | None = None
    service_tier: str | None = None
    # keyplane's additions to OpenAI's shape; money stays integer micro-USD.
    num_error_requests: int = 0
    num_unpriced_requests: int = 0
    num_estimated_requests: int = 0  # tokens counted by keyplane: upstream reported none
    cost_micro_usd: int = 0


class EmbeddingsUsage(Model):
    object: str = "organization.usage.embeddings.result"
    input_tokens: int = 0
    num_model_requests: int = 0
    project_id: str | None = None
    user_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None
    num_error_requests: int = 0
    num_unpriced_requests: int = 0
    num_estimated_requests: int = 0  # tokens counted by keyplane: upstream reported none
    cost_micro_usd: int = 0


class CostAmount(Model):
    """``value`` in ``currency`` as OpenAI sends it; keyplane adds exact ``value_micro_usd``."""

    value: float = 0.0
    currency: str = "usd"
    value_micro_usd: int | None = None


class Cost(Model):
    object: str = "organization.costs.result"
    amount: CostAmount = Field(default_factory=CostAmount)
    line_item: str | None = None
    project_id: str | None = None


Result = TypeVar("Result", bound=BaseModel)


class Bucket(Model, Generic[Result]):
    """One time bucket: ``[start_time, end_time)`` in Unix seconds."""

    object: str = "bucket"
    start_time: int
    end_time: int
    results: list[Result] = Field(default_factory=list)


class ReportPage(Model, Generic[Result]):
    """One page of buckets; ``next_cursor`` is the ``page`` of the next one."""

    object: str = "page"
    data: list[Bucket[Result]] = Field(default_factory=list)
    has_more: bool = False
    next_page: str | None = None

    @property
    def next_cursor(self) -> str | None:
        return self.next_page if self.has_more else None
