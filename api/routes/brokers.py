"""Broker: List Broker Credentials, Connect Broker, Disconnect Broker (as ``/credentials``,
``/connect`` and ``/disconnect``).

A key is checked with the exchange and stored encrypted; no answer ever carries it, only its
label, broker and the last four characters of the client id (``hint``). ``client_id`` of
Disconnect Broker names the credential by its label (as the list shows it).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.common import Limit, Paged, PageNumber, Reader, Trader, core_of
from api.problems import PROBLEMS
from core.broker import service as brokers
from core.broker.models import CredentialStatus
from core.broker.service import CredentialView
from core.broker.types import BrokerName
from core.deployment import credentials

router = APIRouter(prefix="/v1", responses=PROBLEMS)


class BrokerOpt(StrEnum):
    """The specification's ``brokerBrokerOpt``; UnknownBroker means any (a filter) or none (refused)."""

    UNKNOWN = "UnknownBroker"
    BINANCE = "Binance"
    TOKOCRYPTO = "Tokocrypto"
    OKX = "OKX"
    COINBASE = "Coinbase"
    CEXIO = "Cexio"


_SPELLED = {BrokerName.CEXIO: BrokerOpt.CEXIO.value}  # as the specification spells it (the core says CexIO)


class CredentialOut(BaseModel):
    id: int
    label: str
    broker: str = Field(description="as BrokerOpt spells it; Paper for the built-in paper account")
    hint: str = Field(description="the last four characters of the client id; never the key itself")
    status: CredentialStatus
    paper: bool
    verified_at: datetime | None
    can_withdraw: bool | None
    created_at: datetime

    @staticmethod
    def of(view: CredentialView) -> CredentialOut:
        return CredentialOut(id=view.id, label=view.label, broker=_SPELLED.get(view.broker, view.broker.value),
                             hint=view.hint, status=view.status,
                             paper=view.paper, verified_at=view.verified_at, can_withdraw=view.can_withdraw,
                             created_at=view.created_at)  # fmt: skip



class ConnectBroker(BaseModel):
    label: str = Field(min_length=1, max_length=32, description="a short name for the key, e.g. main")
    client_id: str = Field(min_length=1, max_length=512, description="the API key")
    client_secret: str = Field(min_length=1, max_length=4096, description="the API secret (Coinbase: the PEM key)")
    broker: BrokerOpt = BrokerOpt.UNKNOWN
    passphrase: str | None = Field(default=None, max_length=256,
                                   description="OKX: the key's passphrase; Cexio: the sub-account")  # fmt: skip


@router.get("/brokers/credentials", summary="List Broker Credentials", tags=["Broker"], response_model=Paged[CredentialOut])
async def list_credentials(
    request: Request, caller: Reader, page: PageNumber = 1, limit: Limit = 10, broker: BrokerOpt = BrokerOpt.UNKNOWN
) -> Paged[CredentialOut]:
    chosen = None if broker is BrokerOpt.UNKNOWN else broker.value
    found = await brokers.list_credentials(core_of(request).db, caller.actor, page, limit, chosen)
    return Paged[CredentialOut].of(found, CredentialOut.of)


@router.post("/brokers/credentials", summary="Connect Broker", tags=["Broker"], response_model=CredentialOut)
async def connect_broker(body: ConnectBroker, request: Request, caller: Trader) -> CredentialOut:
    core = core_of(request)
    name = brokers.parse_broker("" if body.broker is BrokerOpt.UNKNOWN else body.broker.value)
    extra = body.passphrase.strip() if body.passphrase and body.passphrase.strip() else None
    view = await brokers.connect(core.db, caller.actor, name, body.label, body.client_id, body.client_secret,
                                 extra if name is BrokerName.OKX else None,
                                 account=extra if name is BrokerName.CEXIO else None,
                                 settings=core.settings)  # fmt: skip
    return CredentialOut.of(view)


@router.delete("/brokers/credentials", summary="Disconnect Broker", tags=["Broker"], response_model=CredentialOut)
async def disconnect_broker(
    request: Request, caller: Trader,
    client_id: Annotated[str, Query(min_length=1, max_length=64, description="the credential's label")],
) -> CredentialOut:  # fmt: skip
    return CredentialOut.of(await credentials.disconnect(core_of(request).db, caller.actor, client_id))

