"""Schemathesis against the app's own OpenAPI document, through the real uvicorn server (the
``api`` fixture), on SQLite and PostgreSQL: for every operation, generated requests (valid ones and
ones that break the schema) never get a 5xx, and every answer is one the document declares: its
status code, its content type, its body's schema.

The run is bounded and repeatable: a few examples per operation, derandomized, no example
database. Hypothesis runs in a worker thread and calls the server over the loopback with a
blocking client, while the server (and the database it shares with the test) stays on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.broker import exchanges
from core.broker.exchanges import Verification

TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]  # fmt: skip
EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', 8))  # per operation and mode: enough to reach every branch of the small bodies, quick on SQLite
# Run last: deleting the account ends the token, so any operation after it could only answer 401.
LAST = ("DELETE", "/v1/account")


@pytest.fixture
def no_exchange(monkeypatch):
    """Connect Broker checks a key with the exchange: accept any without the network."""

    class FakeExchange:
        async def close(self) -> None:
            pass

    async def verify(self: Any) -> Verification:
        return Verification(can_withdraw=False, can_trade=True)

    monkeypatch.setattr(exchanges, "new_exchange", lambda broker, keys, settings: FakeExchange())
    monkeypatch.setattr(exchanges.ExchangeBroker, "verify", verify)


def _fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> None:
    """Up to ``EXAMPLES`` requests to one operation, each answer checked; the first failure raises."""
    session = requests.Session()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False)  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=CHECKS)

    try:
        run()
    finally:
        session.close()


def _fuzz_all(schema: Any, base_url: str, headers: dict[str, str]) -> list[str]:
    operations = [found.ok() for found in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, base_url, headers)
            except Unsatisfiable:  # nothing of it can break the schema (no parameters, or only free text)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, FailureGroup) as exc:  # every operation's failure, not only the first
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    return failures


async def test_every_operation_answers_as_the_openapi_document_says(api, no_exchange):
    console, client = api
    core = console.core
    core.settings = core.settings.model_copy(update={
        "admin_ids": [f"console:{console.actor.platform_user_id}"],
        "broker_master_keys": [SecretStr(Fernet.generate_key().decode())]})  # fmt: skip
    [secret] = TOKEN.findall((await console.handle("/token new fuzz admin")).text)
    document = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    run: Callable[[], list[str]] = lambda: _fuzz_all(schema, str(client.base_url), {"Authorization": f"Bearer {secret}"})  # noqa: E731
    failures = await asyncio.to_thread(run)
    assert not failures, "\n\n".join(failures)
