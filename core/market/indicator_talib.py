"""The indicators TA-Lib also computes, computed *by* TA-Lib, and where our values differ from its on purpose.

Indicators in ``_TWINS`` (rsi, macd, adx, stoch, bbands, atr, ...) start on TA-Lib's first valid
bar (NaN before it) and equal its values from there. pandas-ta's own paths publish RSI/MACD/ATR/STOCH
a few bars early, publish ADX from bar ``length`` (converging to TA-Lib's only after ~130 bars) with
a non-standard ADXR, and its TA-Lib path returns directional *movement* in ADX's DMP/DMN: none of
that reaches users. Where our values differ from TA-Lib's on purpose (supertrend, dpo, ...),
``CONVENTIONS`` says how, and ``/dict indicator NAME`` shows it.

TA-Lib is imported on first use only, like pandas-ta.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np

# Each twin maps our inputs and parameters onto TA-Lib's function(s) and its outputs onto our field
# names. ``s`` holds the input series as arrays by column name, ``v`` every parameter, defaults
# filled in.
_Arrays = Mapping[str, np.ndarray]
_Values = Mapping[str, int | float]
TwinFn = Callable[[Any, _Arrays, _Values], dict[str, np.ndarray]]


def _pct(v: _Values) -> float:
    """pandas-ta's ``scalar`` where TA-Lib always scales by 100."""
    return float(v["scalar"]) / 100.0


def _twin_bbands(t: Any, s: _Arrays, v: _Values) -> dict[str, np.ndarray]:
    upper, mid, lower = t.BBANDS(s["close"], v["length"], v["std"], v["std"], 0)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        bandwidth = 100.0 * width / mid
        percent = (s["close"] - lower) / width
    # pandas-ta's convention for the two derived lines: a zero-width band has no percent
    percent[width == 0] = np.nan
    bandwidth[mid == 0] = np.nan
    return {"lower": lower, "mid": mid, "upper": upper, "bandwidth": bandwidth, "percent": percent}


def _twin_ppo(t: Any, s: _Arrays, v: _Values) -> dict[str, np.ndarray]:
    ppo = t.PPO(s["close"], v["fast"], v["slow"], 0) * _pct(v)
    signal = t.EMA(ppo, v["signal"])
    return {"ppo": ppo, "hist": ppo - signal, "signal": signal}


def _twin_stochrsi(t: Any, s: _Arrays, v: _Values) -> dict[str, np.ndarray]:
    _, k = t.STOCHRSI(s["close"], v["rsi_length"], v["length"], v["k"], 0)
    return {"k": k, "d": t.SMA(k, v["d"])}


def _twin_trix(t: Any, s: _Arrays, v: _Values) -> dict[str, np.ndarray]:
    trix = t.TRIX(s["close"], v["length"]) * _pct(v)
    return {"trix": trix, "signal": t.SMA(trix, v["signal"])}


_TWINS: dict[str, TwinFn] = {
    # moving averages and price transforms
    "sma": lambda t, s, v: {"sma": t.SMA(s["close"], v["length"])},
    "ema": lambda t, s, v: {"ema": t.EMA(s["close"], v["length"])},
    "wma": lambda t, s, v: {"wma": t.WMA(s["close"], v["length"])},
    "dema": lambda t, s, v: {"dema": t.DEMA(s["close"], v["length"])},
    "tema": lambda t, s, v: {"tema": t.TEMA(s["close"], v["length"])},
    "trima": lambda t, s, v: {"trima": t.TRIMA(s["close"], v["length"])},
    "t3": lambda t, s, v: {"t3": t.T3(s["close"], v["length"], v["a"])},
    "kama": lambda t, s, v: {"kama": t.KAMA(s["close"], v["length"])},
    "mama": lambda t, s, v: dict(zip(("mama", "fama"), t.MAMA(s["close"], v["fastlimit"], v["slowlimit"]), strict=True)),
    "ht_trendline": lambda t, s, v: {"ht_trendline": t.HT_TRENDLINE(s["close"])},
    "midpoint": lambda t, s, v: {"midpoint": t.MIDPOINT(s["close"], v["length"])},
    "midprice": lambda t, s, v: {"midprice": t.MIDPRICE(s["high"], s["low"], v["length"])},
    "linreg": lambda t, s, v: {"linreg": t.LINEARREG(s["close"], v["length"])},
    "hl2": lambda t, s, v: {"hl2": t.MEDPRICE(s["high"], s["low"])},
    "hlc3": lambda t, s, v: {"hlc3": t.TYPPRICE(s["high"], s["low"], s["close"])},
    "ohlc4": lambda t, s, v: {"ohlc4": t.AVGPRICE(s["open"], s["high"], s["low"], s["close"])},
    "wcp": lambda t, s, v: {"wcp": t.WCLPRICE(s["high"], s["low"], s["close"])},
    "rma": lambda t, s, v: {"rma": t.RMA(s["close"], v["length"])},
    "bbands": _twin_bbands,
    # momentum
    "rsi": lambda t, s, v: {"rsi": t.RSI(s["close"], v["length"]) * _pct(v)},
    "macd": lambda t, s, v: dict(zip(("macd", "signal", "hist"), t.MACD(s["close"], v["fast"], v["slow"], v["signal"]), strict=True)),
    "ppo": _twin_ppo,
    "apo": lambda t, s, v: {"apo": t.APO(s["close"], v["fast"], v["slow"], 0)},
    "mom": lambda t, s, v: {"mom": t.MOM(s["close"], v["length"])},
    "roc": lambda t, s, v: {"roc": t.ROC(s["close"], v["length"]) * _pct(v)},
    "cmo": lambda t, s, v: {"cmo": t.CMO(s["close"], v["length"]) * _pct(v)},
    "trix": _twin_trix,
    "willr": lambda t, s, v: {"willr": t.WILLR(s["high"], s["low"], s["close"], v["length"])},
    "cci": lambda t, s, v: {"cci": t.CCI(s["high"], s["low"], s["close"], v["length"]) * (0.015 / v["c"])},
    "bop": lambda t, s, v: {"bop": t.BOP(s["open"], s["high"], s["low"], s["close"]) * v["scalar"]},
    "stoch": lambda t, s, v: (
        lambda k, d: {"k": k, "d": d, "hist": k - d}
    )(*t.STOCH(s["high"], s["low"], s["close"], v["k"], v["smooth_k"], 0, v["d"], 0)),
    "stochf": lambda t, s, v: dict(zip(("k", "d"), t.STOCHF(s["high"], s["low"], s["close"], v["k"], v["d"], 0), strict=True)),
    "stochrsi": _twin_stochrsi,
    "kdj": lambda t, s, v: dict(zip(("k", "d", "j"), t.KDJ(s["high"], s["low"], s["close"], v["length"], v["signal"], 13, v["signal"], 13), strict=True)),
    "uo": lambda t, s, v: {"uo": t.ULTOSC(s["high"], s["low"], s["close"], v["fast"], v["medium"], v["slow"])},
    # trend
    "adx": lambda t, s, v: {
        "adx": t.ADX(s["high"], s["low"], s["close"], v["length"]) * _pct(v),
        "adxr": t.ADXR(s["high"], s["low"], s["close"], v["length"]) * _pct(v),
        "dmp": t.PLUS_DI(s["high"], s["low"], s["close"], v["length"]) * _pct(v),
        "dmn": t.MINUS_DI(s["high"], s["low"], s["close"], v["length"]) * _pct(v),
    },
    "aroon": lambda t, s, v: (
        lambda down, up: {"down": down * _pct(v), "up": up * _pct(v),
                          "osc": t.AROONOSC(s["high"], s["low"], v["length"]) * _pct(v)}
    )(*t.AROON(s["high"], s["low"], v["length"])),
    # volatility
    "atr": lambda t, s, v: {"atr": t.ATR(s["high"], s["low"], s["close"], v["length"])},
    "natr": lambda t, s, v: {"natr": t.NATR(s["high"], s["low"], s["close"], v["length"]) * _pct(v)},
    "true_range": lambda t, s, v: {"true_range": t.TRANGE(s["high"], s["low"], s["close"])},
    "stdev": lambda t, s, v: {"stdev": t.STDDEV(s["close"], v["length"], 1.0)},
    "variance": lambda t, s, v: {"variance": t.VAR(s["close"], v["length"], 1.0)},
    # volume
    "obv": lambda t, s, v: {"obv": t.OBV(s["close"], s["volume"])},
    "ad": lambda t, s, v: {"ad": t.AD(s["high"], s["low"], s["close"], s["volume"])},
    "adosc": lambda t, s, v: {"adosc": t.ADOSC(s["high"], s["low"], s["close"], s["volume"], v["fast"], v["slow"])},
    "pvt": lambda t, s, v: {"pvt": t.PVT(s["close"], s["volume"])},
    "nvi": lambda t, s, v: {"nvi": t.NVI(s["close"], s["volume"]) * (v["initial"] / 1000.0)},
    "pvi": lambda t, s, v: (
        lambda pvi: {"pvi": pvi, "ma": t.EMA(pvi, v["length"])}
    )(t.PVI(s["close"], s["volume"]) * (v["initial"] / 1000.0)),
    "mfi": lambda t, s, v: {"mfi": t.MFI(s["high"], s["low"], s["close"], s["volume"], v["length"])},
}  # fmt: skip

# Parameter values only TA-Lib's fixed form supports; other values fall back to pandas-ta (and
# CONVENTIONS says how that differs).
_TWIN_ONLY_WITH: dict[str, dict[str, int | float]] = {
    "kama": {"fast": 2, "slow": 30},
    "uo": {"fast_w": 4.0, "medium_w": 2.0, "slow_w": 1.0},
    "nvi": {"length": 1},
}

# Where the value shown deliberately is not TA-Lib's (or TA-Lib has no such line), said in
# ``/dict indicator NAME``. One place for each difference.
CONVENTIONS: dict[str, str] = {
    "ichimoku": (
        "span_a and span_b are the senkou spans at their displacement (26 for 9/26/52, counted as "
        "pandas-ta and TradingView count it: the value on a bar was worked out kijun - 1 bars earlier); "
        "charts draw the spans of the last bars past the last candle with the cloud between them, and "
        "the chikou span (the close, the same displacement back) on charts only"
    ),
    "supertrend": (
        "differs from TA-Lib's SUPERTREND on purpose: TA-Lib keeps tightening both bands in either "
        "trend, so on the bar the trend flips it can show a band level set many bars earlier; here "
        "the new trend's band starts on the flip bar at hl2 ± multiplier × ATR and only tightens "
        "while that trend lasts (long is shown while up, short while down)"
    ),
    "kama": (
        "equals TA-Lib's KAMA with fast 2 and slow 30 (TA-Lib's fixed values); with other fast/slow "
        "it is pandas-ta's KAMA, which starts from an SMA of the first bars instead"
    ),
    "uo": (
        "equals TA-Lib's ULTOSC with weights 4, 2, 1 (TA-Lib's fixed values); other weights use "
        "pandas-ta's formula"
    ),
    "nvi": (
        "equals TA-Lib's NVI (the index moves by the close's percent change on bars whose volume "
        "fell; it starts at initial); with length other than 1 it is pandas-ta's additive NVI"
    ),
    "pvi": "pvi is TA-Lib's PVI, started at initial; ma is its EMA over length bars (pandas-ta's convention)",
    "kdj": "k, d, j are TA-Lib's KDJ (its own smoothing), from TA-Lib's first valid bar",
    "dpo": (
        "differs from TA-Lib's DPO on purpose: it is the causal form, close minus the SMA(length) "
        "of length / 2 + 1 bars earlier, so no value uses later bars"
    ),
    "kc": (
        "pandas-ta's Keltner channels (EMA basis, band = scalar × an EMA of the true range over "
        "length); TA-Lib's KC uses an ATR with its own period, so its bands differ slightly"
    ),
    "rvi": "pandas-ta's relative volatility index; TA-Lib's RVI smooths differently and starts later",
    "psar": (
        "pandas-ta's parabolic SAR split into long (while up) and short (while down) lines, with af "
        "and reversal; TA-Lib's SAR is one line, and after some reversals its values differ"
    ),
    "stochrsi": (
        "k is TA-Lib's STOCHRSI fastd (the raw %K of RSI smoothed over k bars, as TradingView shows "
        "it) and d is k smoothed again over d bars; TA-Lib's own fastk is the unsmoothed line"
    ),
    "ppo": "ppo is TA-Lib's PPO (SMA-based); signal is an EMA of it over signal bars and hist = ppo - signal",
    "trix": "trix is TA-Lib's TRIX; signal is an SMA of it over signal bars (pandas-ta's convention)",
    "bbands": (
        "lower/mid/upper are TA-Lib's BBANDS (population standard deviation); bandwidth = "
        "100 × (upper - lower) / mid and percent = (close - lower) / (upper - lower), as pandas-ta"
    ),
    "adx": (
        "adx, adxr, dmp, dmn are TA-Lib's ADX, ADXR, PLUS_DI and MINUS_DI; pandas-ta's own ADX "
        "starts at bar length and only converges to this after ~130 bars, and its ADXR looks 2 bars "
        "back instead of length - 1"
    ),
}


def talib_twin(name: str) -> bool:
    """Whether ``name`` is computed by TA-Lib (with its default parameters)."""
    return name in _TWINS


def twin(name: str, values: _Values) -> TwinFn | None:
    """TA-Lib's version of ``name`` for these parameter values (every one given), if it has one."""
    fn = _TWINS.get(name)
    if fn is None:
        return None
    fixed = _TWIN_ONLY_WITH.get(name, {})
    if any(float(values[k]) != float(x) for k, x in fixed.items()):
        return None
    return fn


@cache
def talib() -> Any:
    """TA-Lib, imported on first use."""
    import talib

    return talib
