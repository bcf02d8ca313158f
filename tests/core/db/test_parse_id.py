"""Ids typed by users or sent in webhooks: only what an ``integer`` column can hold looks a row up."""

from __future__ import annotations

import pytest

from core.db import ID_MAX, parse_id
from core.purchase.settle import _find_purchase


def test_parse_id_takes_ascii_digits_within_the_column_range():
    assert parse_id("12") == 12 and parse_id(" 7 ") == 7 and parse_id(str(ID_MAX)) == ID_MAX
    for bad in ("", "-1", "+3", "1.0", "²", "٣", "1_000", str(ID_MAX + 1), "9" * 5000):
        assert parse_id(bad) is None, bad


@pytest.mark.parametrize("purchase_id", ["²", "٣", "99999999999999999999999", "9" * 5000])
async def test_a_webhooks_purchase_id_that_cannot_be_ours_finds_nothing(db, purchase_id):
    data = {"extraData": {"purchaseId": purchase_id}}
    assert await _find_purchase(db, data, "tx-unknown") is None
