"""Which buckets one page of a report holds, and the cursor that names the next page.

As OpenAI's Administration API has it, a page holds up to ``limit`` time buckets aligned to
the width in UTC, from the start of the range onwards, and ``next_page`` names where the next
one starts. keyplane adds a bound on the groups a page holds (``MAX_RESULTS``): a bucket with
more is split in the order of its groups, and the cursor then names the last group that was
on the page as well as the bucket.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keyplane.errors import ValidationFailedError


@dataclass(frozen=True, slots=True)
class Width:
    """A bucket width with OpenAI's default and maximum number of buckets per page."""

    seconds: int
    default_limit: int
    max_limit: int


USAGE_WIDTHS = {
    "1m": Width(60, 60, 1440),
    "1h": Width(3600, 24, 168),
    "1d": Width(86400, 7, 31),
}
COST_WIDTHS = {"1d": Width(86400, 7, 180)}


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What a caller asked for, as OpenAI's query parameters name it; times in Unix seconds."""

    start_time: int
    end_time: int | None = None
    bucket_width: str = "1d"
    group_by: Sequence[str] = ()
    project_ids: Sequence[str] = ()
    api_key_ids: Sequence[str] = ()
    models: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    batch: bool | None = None  # True finds nothing: the gateway makes no batch calls
    limit: int | None = None
    page: str | None = None


@dataclass(frozen=True, slots=True)
class BucketPage:
    """The buckets of one page, and the part of the query range they cover."""

    first: int
    width: int
    count: int
    start: int
    end: int
    has_more: bool
    # The groups of the first bucket up to and with this one were on the page before.
    after: tuple[str, ...] = ()
    # The last bucket goes on, after this group, on the next page.
    split: tuple[str, ...] = ()

    @property
    def bucket_starts(self) -> list[int]:
        return [self.first + i * self.width for i in range(self.count)]

    @property
    def data_range(self) -> tuple[int, int]:
        """Rows counted on this page: the query range cut to this page's buckets."""
        return max(self.start, self.first), min(self.end, self.first + self.count * self.width)

    @property
    def next_page(self) -> str | None:
        if not self.has_more:
            return None
        if self.split:
            return encode_page(self.first + (self.count - 1) * self.width, self.split)
        return encode_page(self.first + self.count * self.width)


# The most groups a page holds, over all its buckets: a page by key over a million keys would
# be a million results (hundreds of MB of JSON, built in memory). A page that would hold more
# ends at the last bucket that fits (``has_more``; ``next_page`` goes on from there), as a
# page's ``limit`` is the most buckets it holds, not a promise. A bucket with more groups
# than that is split, in group order: the next page starts with the rest of it. At a million
# keys a page by key took 274 ms, most of it the database summing the day it is cut from
# (docs/benchmarks.md, "Scale").
MAX_RESULTS = 20_000


def plan_page(request: ReportRequest, widths: Mapping[str, Width], *, now: int) -> BucketPage:
    """Which buckets one page holds; a 422 naming the parameter for anything out of range."""
    width = widths.get(request.bucket_width)
    if width is None:
        allowed = ", ".join(widths)
        raise ValidationFailedError(
            f"bucket_width must be one of {allowed}; got '{request.bucket_width}'.",
            param="bucket_width",
        )
    limit = width.default_limit if request.limit is None else request.limit
    if not 1 <= limit <= width.max_limit:
        raise ValidationFailedError(
            f"limit must be between 1 and {width.max_limit} for bucket_width="
            f"{request.bucket_width}.",
            param="limit",
        )
    start, end = request.start_time, request.end_time
    if end is not None and end <= start:
        raise ValidationFailedError("end_time must be after start_time.", param="end_time")
    end = now if end is None else end
    aligned = start - start % width.seconds
    first, after = (aligned, ()) if request.page is None else decode_page(request.page)
    if first < aligned or (first - aligned) % width.seconds or (request.page and first >= end):
        raise foreign_page()
    remaining = max(0, -(-(end - first) // width.seconds))
    count = min(limit, remaining)
    return BucketPage(
        first=first,
        width=width.seconds,
        count=count,
        start=start,
        end=end,
        has_more=remaining > count,
        after=after,
    )


def foreign_page() -> ValidationFailedError:
    return ValidationFailedError(
        "page does not belong to this query; pass next_page from the previous response "
        "with the same start_time, end_time, bucket_width and group_by.",
        param="page",
    )


_PAGE_PREFIX = "bucket:"


def encode_page(bucket_start: int, after: Sequence[str] = ()) -> str:
    """An opaque cursor for the page whose first bucket starts at ``bucket_start``, and goes
    on after the group ``after`` (its grouped values) when that bucket was split."""
    text = f"{_PAGE_PREFIX}{bucket_start}"
    if after:
        text += ":" + json.dumps(list(after), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_page(page: str) -> tuple[int, tuple[str, ...]]:
    """The first bucket and the ``after`` group of a cursor ``encode_page`` made."""
    try:
        text = base64.urlsafe_b64decode(page.encode("ascii")).decode("ascii")
        start, _, rest = text.removeprefix(_PAGE_PREFIX).partition(":")
        after = json.loads(rest) if rest else []
    except (UnicodeError, binascii.Error, ValueError):
        text, start, after = "", "", []
    if (
        not text.startswith(_PAGE_PREFIX)
        or not start.isdigit()
        or len(start) > 12
        or not isinstance(after, list)
        or not all(isinstance(value, str) for value in after)
    ):
        raise ValidationFailedError(
            "page is not a cursor keyplane issued; pass next_page from the previous response.",
            param="page",
        )
    return int(start), tuple(after)
