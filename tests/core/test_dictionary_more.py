"""Dictionary: the broker and glossary categories (English and Indonesian), beside the existing ones."""

from __future__ import annotations

import pytest

from core.broker.types import BrokerName
from core.dictionary import glossary
from core.dictionary import service as dictionary
from core.errors import NotFound


def test_categories_keep_the_old_and_add_the_new():
    assert {"indicator", "interval", "range", "source", "script", "fundamental", "broker", "glossary"} <= set(
        dictionary.categories()
    )


def test_every_supported_broker_is_listed_with_what_it_needs():
    entries = {e.label: e for e in dictionary.entries("brokers")}
    assert set(entries) == {b.value for b in BrokerName}
    assert "passphrase" in entries["OKX"].summary
    assert "no keys" in entries["Paper"].summary and "/connect" not in entries["Paper"].detail
    assert "/connect binance" in entries["Binance"].detail
    assert dictionary.entry("broker", "okx").label == "OKX"


def test_glossary_has_both_languages():
    terms = dictionary.entries("glossary")
    assert len(terms) >= 30
    for item in terms:
        assert item.summary.startswith("ID: ") and "EN: " in item.detail and "\nID: " in item.detail
    words = {t.en for t in glossary.TERMS}
    for needed in ("support", "resistance", "candlestick", "stop loss", "take profit", "drawdown", "lot",
                   "bandarmology", "broker summary", "accumulation", "distribution", "foreign flow"):  # fmt: skip
        assert needed in words


@pytest.mark.parametrize(
    ("word", "label"),
    [("Stop Loss", "stop loss"), ("stop-loss", "stop loss"), ("batas rugi", "stop loss"), ("cut loss", "stop loss"),
     ("bandar", "bandarmology"), ("ARA", "auto rejection upper"), ("arb", "auto rejection lower"),
     ("aliran dana asing", "foreign flow"), ("brosum", "broker summary"), ("rata-rata bergerak", "moving average")],
)  # fmt: skip
def test_lookup_by_english_indonesian_or_alias(word, label):
    assert dictionary.entry("glossary", word).label == label


def test_unknown_term_suggests_the_nearest():
    with pytest.raises(NotFound, match="no glossary term 'stop los' — did you mean 'stop loss'"):
        dictionary.entry("glossary", "stop los")
