"""Purchase tests: a local Mayar stub and helpers to make products, buyers and settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.core.purchase.mayar_stub import API_KEY, MayarStub


@pytest.fixture
def mayar() -> Iterator[MayarStub]:
    stub = MayarStub().start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture
def mayar_key() -> str:
    return API_KEY
