"""Parsed once per distinct text: program_of / condition_of, and Program is read-only."""

from __future__ import annotations

import dataclasses

import pytest

from core.script import ScriptError, condition_of, parse, program_of

SRC = 'fast = sma(close, input("fast", 10))\nbuy = crossover(close, fast)\nsell = crossunder(close, fast)'


def test_program_of_parses_each_text_once_and_the_program_is_immutable():
    program_of.cache_clear()
    first = program_of(SRC)
    assert program_of(SRC) is first and program_of.cache_info().hits == 1
    assert dict(first.inputs) == dict(parse(SRC).inputs) == {"fast": 10}
    with pytest.raises(TypeError):
        first.inputs["fast"] = 3  # shared between callers: nobody may change it
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.outputs = frozenset()  # type: ignore[misc]
    assert not hasattr(first, "node_count")


def test_condition_of_caches_rules_but_not_errors():
    condition_of.cache_clear()
    rule = condition_of("rsi(close, 14) < 30")
    assert condition_of("rsi(close, 14) < 30") is rule
    for _ in range(2):
        with pytest.raises(ScriptError):
            condition_of("rsi(close 14) < 30")
    assert condition_of.cache_info().currsize == 1


def test_the_sites_share_one_parse(monkeypatch):
    import core.script as script
    from core.deployment.signals import last_bar_signals

    program_of.cache_clear()
    calls = []
    real = script.parse

    def counting(source):
        calls.append(source)
        return real(source)

    monkeypatch.setattr(script, "parse", counting)
    import numpy as np
    import pandas as pd

    close = np.linspace(100, 120, 60)
    frame = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 1e6},
        index=pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC"),
    )
    for _ in range(3):
        last_bar_signals(SRC, frame, {"fast": 5})
    assert calls == [SRC]
