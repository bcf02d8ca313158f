"""What every route module shares: who may call (by scope), paging, and the PNG alternative."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Self

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from api.auth import Caller, requires
from core.app import Core
from core.paging import Page
from core.tokens.service import Scope

Reader = Annotated[Caller, Depends(requires(Scope.READ))]
Trader = Annotated[Caller, Depends(requires(Scope.TRADE))]
Admin = Annotated[Caller, Depends(requires(Scope.ADMIN))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000, description="page number, from 1")]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]
PNG = {"content": {"image/png": {}}, "description": "the chart, when the request asks for Accept: image/png"}


class Paged[T](BaseModel):
    """One page of a list: its items, which page, how many a page holds, how many in all."""

    items: list[T]
    page: int
    limit: int
    total: int

    @classmethod
    def of(cls, found: Page[Any], shown: Callable[[Any], T]) -> Self:
        """A core page, each item as ``shown`` renders it."""
        return cls(items=[shown(item) for item in found.items], page=found.page, limit=found.page_size,
                   total=found.total)  # fmt: skip


def core_of(request: Request) -> Core:
    return request.app.state.core


def wants_png(request: Request) -> bool:
    return "image/png" in request.headers.get("accept", "")
