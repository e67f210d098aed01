"""A secret scanning report (what GitHub sends) and the feedback keyplane answers with."""

from __future__ import annotations

import enum
import hashlib
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from keyplane.errors import BadRequestError, ValidationFailedError


class ReportedToken(BaseModel):
    """One match: the secret, GitHub's name for its pattern, where and on what it was found."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    token: Annotated[str, Field(min_length=1, max_length=1000, repr=False)]
    type: Annotated[str, Field(max_length=200)] = ""
    url: Annotated[str, Field(max_length=2000)] = ""
    source: Annotated[str, Field(max_length=100)] = ""


class Label(enum.StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"


class Feedback(BaseModel):
    """GitHub's feedback format, in its hashed form: the plaintext is never sent back."""

    token_hash: str
    token_type: str
    label: Label

    @classmethod
    def of(cls, reported: ReportedToken, label: Label) -> Feedback:
        digest = hashlib.sha256(reported.token.encode("utf-8")).hexdigest()
        return cls(token_hash=digest, token_type=reported.type, label=label)


_REPORT = TypeAdapter(list[ReportedToken])


def parse_report(body: bytes) -> list[ReportedToken]:
    """The matches in a report body, or a 400/422 that says what is wrong with it."""
    try:
        return _REPORT.validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise BadRequestError(
                "The report body is not valid JSON.", code="invalid_json"
            ) from None
        where = ".".join(str(part) for part in first["loc"]) or None
        raise ValidationFailedError(
            f"Invalid report: {first['msg']} (a JSON array of "
            '{"token", "type", "url", "source"} objects is expected).',
            param=where,
        ) from None
