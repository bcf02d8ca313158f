"""One task's scripts on the same bars: each distinct indicator is computed once for them all, and
every script reads exactly what it would alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.deployment import signals
from core.deployment.signals import signals_of_scripts, signals_or_error
from core.market import indicator_compute


def _bars(n: int = 300) -> pd.DataFrame:
    index = pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, n)))
    return pd.DataFrame({"open": close, "high": close * 1.02, "low": close * 0.99, "close": close,
                         "volume": 1000.0}, index=index)  # fmt: skip


SCRIPTS = [
    ("f = ema(close, 5)\ns = ema(close, 20)\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n", {}),
    ("f = ema(close, 8)\ns = ema(close, 20)\nbuy = crossover(f, s)\nsell = crossunder(f, s)\n", {}),
    ("r = rsi(close, 14)\nbuy = r < 45\nsell = r > 55\nstop_loss = 0.02\n", {}),
    ("r = rsi(close, 14)\nm = ema(close, 20)\nbuy = r < 50 and close > m\nsell = r > 60\n", {}),
    ("m = ema(hl2, 20)\nbuy = close > m\nsell = close < m\n", {}),  # ema of another series: its own entry
]


def test_a_batch_reads_what_each_script_reads_alone_computing_shared_indicators_once(monkeypatch):
    frame = _bars()
    alone = [signals_or_error(source, frame, inputs) for source, inputs in SCRIPTS]
    calls: list[str] = []
    real = indicator_compute.call

    def counted(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(indicator_compute, "call", counted)
    batch = signals_of_scripts(frame, SCRIPTS)
    assert batch == alone
    # ema 5, ema 8, ema 20 (three scripts), rsi 14 (two scripts), ema 20 of hl2: five computations, not eight
    assert sorted(calls) == ["ema", "ema", "ema", "ema", "rsi"]
    assert any(s.buy or s.sell for s in batch)  # the scripts do say something on these bars


def test_a_failing_script_in_a_batch_leaves_the_others_their_answers():
    frame = _bars()
    broken = ("m = ema(close, 0)\nbuy = close > m\nsell = close < m\n", {})
    batch = signals_of_scripts(frame, [SCRIPTS[0], broken, SCRIPTS[2]])
    assert isinstance(batch[1], signals.Failure) and "ema" in batch[1].text
    assert batch[0] == signals_or_error(SCRIPTS[0][0], frame, {}) and batch[2] == signals_or_error(SCRIPTS[2][0], frame, {})
