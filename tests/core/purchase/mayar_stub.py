"""A local Mayar: a real HTTP server on 127.0.0.1 (ephemeral port) in a thread.

It answers ``POST /hl/v1/invoice/create`` and ``GET /hl/v1/invoice/{id}`` with the recorded
shapes in tests/fixtures/mayar/ (ids, amounts and statuses filled in), refuses a wrong Bearer
key with 401 as Mayar does, and keeps every request it received for the tests to inspect.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mayar"
API_KEY = "test-mayar-key"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Invoice:
    id: str
    amount: int
    transaction_id: str
    status: str = "unpaid"
    extra: dict[str, Any] = field(default_factory=dict)


class MayarStub:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[Received] = []
        self.invoices: dict[str, Invoice] = {}
        self.fail_with: int | None = None  # answer every request with this status
        self.fail_extra: dict[str, Any] | None = None  # more fields for that answer
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)  # stop() waits one poll

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MayarStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def pay(self, invoice_id: str, amount: int | None = None) -> None:
        """The payer paid (optionally a different amount, as a tampered invoice would show)."""
        invoice = self.invoices[invoice_id]
        invoice.status = "paid"
        if amount is not None:
            invoice.amount = amount

    def only_invoice(self) -> Invoice:
        [invoice] = self.invoices.values()
        return invoice

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        amount = sum(int(i["quantity"]) * int(i["rate"]) for i in body["items"])
        invoice = Invoice(str(uuid.uuid4()), amount, str(uuid.uuid4()), extra=body.get("extraData") or {})
        self.invoices[invoice.id] = invoice
        answer = fixture("invoice_create_response.json")
        expires = datetime.fromisoformat(body["expiredAt"].replace("Z", "+00:00"))
        answer["data"].update(
            id=invoice.id, transactionId=invoice.transaction_id,
            link=f"https://stoxlify.myr.id/invoices/{invoice.id[:10]}", expiredAt=int(expires.timestamp() * 1000),
            extraData=invoice.extra,
        )
        return answer

    def _detail(self, invoice: Invoice) -> dict[str, Any]:
        answer = copy.deepcopy(fixture("invoice_detail_paid.json" if invoice.status == "paid" else "invoice_detail_unpaid.json"))
        data = answer["data"]
        data.update(id=invoice.id, amount=invoice.amount, status=invoice.status, transactionId=invoice.transaction_id,
                    paymentLinkId=invoice.id, transactions=[{"id": invoice.transaction_id}])
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                stub.requests.append(Received(self.command, self.path, dict(self.headers.items()), body))
                if stub.fail_with is not None:
                    return self._send(stub.fail_with, {"statusCode": stub.fail_with, "messages": "error",
                                                       **(stub.fail_extra or {})})
                if self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                    return self._send(401, {"statusCode": 401, "messages": "Unauthorized"})
                if self.command == "POST" and self.path == "/hl/v1/invoice/create":
                    return self._send(200, stub._create(body))
                prefix = "/hl/v1/invoice/"
                if self.command == "GET" and self.path.startswith(prefix):
                    invoice = stub.invoices.get(self.path[len(prefix):])
                    if invoice is None:
                        return self._send(404, {"statusCode": 404, "messages": "not found"})
                    return self._send(200, stub._detail(invoice))
                return self._send(404, {"statusCode": 404, "messages": "not found"})

            do_GET = _handle
            do_POST = _handle

        return Handler
