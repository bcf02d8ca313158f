"""One page of a longer list, as every "list" call of the API returns it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Result, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Page[T]:
    items: Sequence[T]
    page: int  # 1-based
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def check_page(page: int, page_size: int) -> int:
    """The row offset of a page; Invalid for a page below 1 or a size outside 1..100."""
    if page < 1:
        raise Invalid(f"page numbers start at 1, not {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"page size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
    return (page - 1) * page_size


async def fetch_page[*Ts](
    session: AsyncSession, query: Select[*Ts], page: int, page_size: int
) -> tuple[Result[*Ts], int]:
    """One page of ``query``'s rows, in the order it sets, and how many rows it matches in all.

    The total counts the query itself (its filters and joins, not its order), so a list and its
    count cannot disagree; every "list" call pages through here."""
    offset = check_page(page, page_size)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return await session.execute(query.offset(offset).limit(page_size)), total or 0
