"""One page of a longer list, as every "list" call of the API returns it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
