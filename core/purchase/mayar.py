"""Mayar's headless API (https://docs.mayar.id): create an invoice, read one back.

Only the two calls the shop needs. Every failure (network, timeout, non-2xx, malformed JSON)
becomes ``Unavailable`` with a message that never contains the API key; the key travels only
in the ``Authorization: Bearer`` header.

Recorded shapes (tests/fixtures/mayar/):
- ``POST /hl/v1/invoice/create`` ``{name, email, mobile, redirectUrl, description, expiredAt (ISO 8601
  UTC), items: [{quantity, rate, description}], extraData: {...}}`` ->
  ``{statusCode, messages, data: {id, transactionId, link, expiredAt (epoch ms), extraData}}``
- ``GET /hl/v1/invoice/{id}`` -> ``{statusCode, messages, data: {id, amount, status (unpaid | paid |
  closed), link, expiredAt, transactions: [{id}], transactionId, paymentUrl, ...}}``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from core.config import Settings
from core.errors import Unavailable
from core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CreatedInvoice:
    invoice_id: str
    transaction_id: str | None
    link: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class InvoiceState:
    invoice_id: str
    status: str  # as Mayar says it, lower-case: unpaid, paid, closed, ...
    amount: int
    transaction_ids: tuple[str, ...] = field(default_factory=tuple)

    @property
    def paid(self) -> bool:
        return self.status == "paid"


def iso_utc(moment: datetime) -> str:
    """``2026-04-19T16:43:23.000Z``: the form Mayar's examples use for ``expiredAt``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def from_epoch_ms(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


class MayarClient:
    """Mayar's headless API. Each call opens a short-lived connection (payments are rare, nothing
    to close at shutdown), unless made inside ``async with client:``, which shares one connection
    pool across the calls (the status poll's loop over pending invoices). ``httpx`` is imported on
    first use, not when the bot starts."""

    def __init__(self, settings: Settings) -> None:
        if settings.mayar_api_key is None or not settings.mayar_api_key.get_secret_value():
            raise Unavailable("payments are not set up (MAYAR_API_KEY is missing): please tell the bot's admins")
        self._key = settings.mayar_api_key.get_secret_value()
        self._base = settings.mayar_base_url.rstrip("/")
        self._timeout = settings.mayar_timeout_s
        self._shared: Any = None  # an httpx.AsyncClient while inside ``async with``

    def _client(self) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        return httpx.AsyncClient(base_url=self._base, timeout=self._timeout, headers=headers)

    async def __aenter__(self) -> MayarClient:
        if self._shared is None:
            self._shared = self._client()
        return self

    async def __aexit__(self, *exc: object) -> None:
        shared, self._shared = self._shared, None
        if shared is not None:
            await shared.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import httpx

        try:
            if self._shared is not None:
                response = await self._shared.request(method, path, json=body)
            else:
                async with self._client() as client:
                    response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            log.warning("mayar_unreachable", path=path, error=type(exc).__name__)
            raise Unavailable("the payment provider cannot be reached now: please try again in a minute") from None
        if response.status_code >= 400:
            # only Mayar's own message: the rest of the body can echo the buyer's name, email and phone
            log.warning("mayar_refused", path=path, status=response.status_code, messages=_messages(response))
            raise Unavailable(f"the payment provider refused the request (HTTP {response.status_code})")
        try:
            payload = response.json()
        except ValueError:
            raise Unavailable("the payment provider answered something unreadable") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise Unavailable("the payment provider's answer has no data")
        return data

    async def create_invoice(
        self,
        *,
        name: str,
        email: str,
        mobile: str,
        redirect_url: str,
        description: str,
        expires_at: datetime,
        items: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> CreatedInvoice:
        body = {
            "name": name,
            "email": email,
            "mobile": mobile,
            "redirectUrl": redirect_url,
            "description": description,
            "expiredAt": iso_utc(expires_at),
            "items": items,
            "extraData": extra,
        }
        data = await self._call("POST", "/hl/v1/invoice/create", body)
        invoice_id, link = data.get("id"), data.get("link")
        if not isinstance(invoice_id, str) or not isinstance(link, str):
            raise Unavailable("the payment provider's invoice has no id or link")
        transaction = data.get("transactionId") or data.get("transaction_id")
        return CreatedInvoice(
            invoice_id=invoice_id,
            transaction_id=str(transaction) if transaction else None,
            link=link,
            expires_at=from_epoch_ms(data.get("expiredAt")),
        )

    async def get_invoice(self, invoice_id: str) -> InvoiceState:
        data = await self._call("GET", f"/hl/v1/invoice/{quote(invoice_id, safe='')}")
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise Unavailable("the payment provider's invoice has no amount")
        if isinstance(amount, float) and not amount.is_integer():  # never truncated into a match
            raise Unavailable(f"the payment provider's invoice amount {amount} is not whole rupiah")
        transactions = [str(t["id"]) for t in data.get("transactions") or [] if isinstance(t, dict) and t.get("id")]
        if data.get("transactionId"):
            transactions.append(str(data["transactionId"]))
        return InvoiceState(
            invoice_id=str(data.get("id") or invoice_id),
            status=str(data.get("status") or "").lower(),
            amount=int(amount),
            transaction_ids=tuple(dict.fromkeys(transactions)),
        )


def _messages(response: Any) -> str:
    """The ``messages`` field of a Mayar error body (short), or "" when there is none."""
    try:
        payload = response.json()
    except ValueError:
        return ""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    return str(messages)[:200] if isinstance(messages, str | int) else ""
