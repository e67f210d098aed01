"""Cursor pagination over ``(created_at, id)``, the shape of OpenAI's list endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from keyplane.errors import ValidationFailedError

MAX_LIMIT = 100


class _Listed(Protocol):
    id: Any
    created_at: Any


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool

    @property
    def first_id(self) -> str | None:
        return getattr(self.items[0], "id", None) if self.items else None

    @property
    def last_id(self) -> str | None:
        return getattr(self.items[-1], "id", None) if self.items else None


async def paginate(
    session: AsyncSession,
    query: Select[T],
    model: type[_Listed],
    *,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    newest_first: bool = False,
) -> Page[T]:
    """One page of ``query``; ``after``/``before`` are ids of rows on a previous page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailedError(f"limit must be between 1 and {MAX_LIMIT}.", param="limit")
    created: InstrumentedAttribute[Any] = model.created_at
    ident: InstrumentedAttribute[Any] = model.id
    backwards = before is not None and after is None
    cursor_id = after if after is not None else before
    if cursor_id is not None:
        anchor = (await session.execute(select(created).where(ident == cursor_id))).scalar()
        if anchor is None:
            param = "after" if after is not None else "before"
            raise ValidationFailedError(
                f"No object with id '{cursor_id}' to page from.", param=param
            )
        later = or_(created > anchor, and_(created == anchor, ident > cursor_id))
        earlier = or_(created < anchor, and_(created == anchor, ident < cursor_id))
        go_later = newest_first == backwards
        query = query.where(later if go_later else earlier)
    ascending = newest_first == backwards
    order = (created.asc(), ident.asc()) if ascending else (created.desc(), ident.desc())
    rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).scalars())
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    return Page(items=rows, has_more=has_more)
