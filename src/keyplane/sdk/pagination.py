"""Automatic pagination: follow ``next_cursor`` from page to page, yielding each item."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Protocol, TypeVar

from keyplane.sdk.calls import Call

Item = TypeVar("Item", covariant=True)
T = TypeVar("T")


class Paged(Protocol[Item]):
    """A page of a list (cursor ``after``) or of a report (cursor ``page``)."""

    @property
    def data(self) -> Sequence[Item]: ...

    @property
    def next_cursor(self) -> str | None: ...


class Send(Protocol):
    def __call__(self, call: Call[T], /) -> T: ...


class AsyncSend(Protocol):
    def __call__(self, call: Call[T], /) -> Awaitable[T]: ...


def auto_paging(send: Send, page_at: Callable[[str | None], Call[Paged[T]]]) -> Iterator[T]:
    """Every item of every page; ``page_at(cursor)`` is the call for the page at ``cursor``."""
    cursor: str | None = None
    while True:
        page = send(page_at(cursor))
        yield from page.data
        cursor = page.next_cursor
        if cursor is None:
            return


async def async_auto_paging(
    send: AsyncSend, page_at: Callable[[str | None], Call[Paged[T]]]
) -> AsyncIterator[T]:
    """The asyncio twin of ``auto_paging``."""
    cursor: str | None = None
    while True:
        page = await send(page_at(cursor))
        for item in page.data:
            yield item
        cursor = page.next_cursor
        if cursor is None:
            return
