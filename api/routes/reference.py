"""Dictionary (Fetch Dictionaries), Bandarmology (Get Broker Summary) and Contact (Contact Us)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.common import Reader
from api.problems import PROBLEMS
from core.app import Core
from core.bandarmology.service import BandarService
from core.bandarmology.types import BrokerSummary
from core.contact import service as contact
from core.dictionary import service as dictionary

router = APIRouter(prefix="/v1", responses=PROBLEMS)


class DictionaryEntry(BaseModel):
    label: str
    summary: str
    detail: str = ""


@router.get("/dictionaries", summary="Fetch Dictionaries", tags=["Dictionary"], response_model=list[DictionaryEntry])
async def dictionaries(
    request: Request, caller: Reader,
    category: Annotated[str | None, Query(max_length=32, description="indicator, interval, range, source, script, "
                                          "fundamental, broker or glossary; none: the categories")] = None,
    label: Annotated[str | None, Query(max_length=64, description="one entry of the category")] = None,
) -> list[DictionaryEntry]:  # fmt: skip
    """What the bot understands, as ``/dict`` shows it."""
    if category is None:
        return [DictionaryEntry(label=name, summary=summary) for name, summary in dictionary.categories().items()]
    served = request.app.state.core.market.intervals_by_source()
    found = [dictionary.entry(category, label, served)] if label else dictionary.entries(category, served)
    return [DictionaryEntry(label=e.label, summary=e.summary, detail=e.detail) for e in found]


@router.get("/bandarmology/summary", summary="Get Broker Summary", tags=["Bandarmology"], response_model=BrokerSummary)
async def broker_summary(
    request: Request, caller: Reader,
    ticker: Annotated[str, Query(min_length=1, max_length=32, description="a stock code (BBCA) or a crypto pair")],
    period: Annotated[str | None, Query(max_length=32, description="a date (2024-06-03) or a range (5d, 1h)")] = None,
) -> BrokerSummary:  # fmt: skip
    """Who bought and sold the ticker, and the verdict, as ``/bandar`` shows it."""
    core: Core = request.app.state.core
    return await BandarService(core.settings, core.db, compute=core.compute).summary(caller.actor, ticker, period)


class ContactRequest(BaseModel):
    name: str | None = Field(default=None, max_length=128, description="the customer's name")
    email: str | None = Field(default=None, max_length=320, description="where the team may answer")
    message: str = Field(min_length=1, max_length=4000)


class ContactAnswer(BaseModel):
    id: int
    forwarded: bool


@router.post("/contact", summary="Contact Us", tags=["Contact"], response_model=ContactAnswer)
async def contact_us(body: ContactRequest, request: Request, caller: Reader) -> ContactAnswer:
    """A message to the team: stored, then forwarded to the admins' chat (as ``/contact``)."""
    core: Core = request.app.state.core
    actor = dataclasses.replace(caller.actor, display_name=body.name or caller.actor.display_name)
    text = body.message if not body.email else f"{body.message}\nReply to: {body.email}"
    sent = await contact.send_message(core.db, core.settings, core.notifiers, actor, text)
    return ContactAnswer(id=sent.message.id, forwarded=sent.forwarded)
