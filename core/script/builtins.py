"""The built-in series, helper functions and output names of the script language.

Helpers are looked up before pandas-ta indicators, so a helper and an indicator of the same
name can never be confused (none collide today; ``tests/core/script`` keeps it so). The series
``hl2 hlc3 ohlc4`` are also pandas-ta indicators: written bare they are the series, called
they are the indicator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.labels import did_you_mean
from core.script.limits import MAX_LOOKBACK
from core.script.values import (
    Problem,
    Value,
    as_array,
    as_float_array,
    is_boolean,
    is_number,
    is_numeric,
    kind,
    misuse,
    need_boolean,
    need_numeric,
    shift,
    whole_number,
)

SERIES: dict[str, str] = {
    "open": "each bar's opening price",
    "high": "each bar's highest price",
    "low": "each bar's lowest price",
    "close": "each bar's closing price",
    "volume": "each bar's traded volume",
    "hl2": "(high + low) / 2",
    "hlc3": "(high + low + close) / 3",
    "ohlc4": "(open + high + low + close) / 4",
    "bar_index": "the bar's number, 0 for the first bar",
}

OUTPUTS: dict[str, str] = {
    "buy": "true/false series: open a long",
    "sell": "true/false series: close the long",
    "short": "true/false series: open a short (backtests only: deployments trade long only)",
    "cover": "true/false series: close the short",
    "stop_loss": "fraction of the entry price, e.g. 0.05: leave the position 5 % against it",
    "take_profit": "fraction of the entry price, e.g. 0.12: take the profit 12 % in favour",
}
SIGNALS = ("buy", "sell", "short", "cover")


@dataclass(frozen=True)
class Helper:
    name: str
    params: tuple[str, ...]
    required: int
    description: str
    run: Callable[..., Value] | None  # None: handled by the evaluator itself (input, plot)

    @property
    def usage(self) -> str:
        shown = [p if i < self.required else f"{p}={_DEFAULT_TEXT.get((self.name, p), '...')}"
                 for i, p in enumerate(self.params)]  # fmt: skip
        return f"{self.name}({', '.join(shown)})"


_DEFAULT_TEXT = {("change", "n"): "1", ("nz", "value"): "0", ("round", "ndigits"): "0", ("plot", "title"): '"..."'}
_ALIASES = {"length": "n"}  # highest(close, length=20) as pandas-ta people write it


def bind[A](helper: Helper, args: Sequence[A], keywords: Mapping[str, A]) -> dict[str, A]:
    """Match positional and keyword arguments to ``helper.params`` (works on nodes and on values)."""
    if len(args) > len(helper.params):
        raise Problem(
            f"{helper.name} takes at most {len(helper.params)} argument{'s' if len(helper.params) > 1 else ''}"
            f" ({', '.join(helper.params)}), got {len(args)}: {helper.usage}"
        )
    bound: dict[str, A] = dict(zip(helper.params, args, strict=False))
    for key, value in keywords.items():
        name = _ALIASES.get(key, key) if _ALIASES.get(key) in helper.params else key
        if name not in helper.params:
            raise Problem(f"{helper.name} has no argument '{key}'{did_you_mean(key, helper.params, case_sensitive=True)}: {helper.usage}")
        if name in bound:
            raise Problem(f"{helper.name}: '{name}' is given twice")
        bound[name] = value
    missing = [p for p in helper.params[: helper.required] if p not in bound]
    if missing:
        raise Problem(f"{helper.name} needs {', '.join(missing)}: {helper.usage}")
    return bound


# ----------------------------------------------------------------------------- implementations


def _cross(n: int, a: Value, b: Value, above: bool, name: str) -> Value:
    need_numeric(a, name)
    need_numeric(b, name)
    fa, fb = as_float_array(a, n), as_float_array(b, n)
    # (a[1] <= b[1]) & (a > b) over bars 1.., false on bar 0 (no bar before it): the same as comparing
    # with shift(a, 1), without making the shifted copies (an optimiser's grid runs this per set)
    out = np.zeros(n, dtype=bool)
    with np.errstate(all="ignore"):
        if above:
            np.logical_and(fa[:-1] <= fb[:-1], fa[1:] > fb[1:], out=out[1:])
        else:
            np.logical_and(fa[:-1] >= fb[:-1], fa[1:] < fb[1:], out=out[1:])
    return out


def _crossover(n: int, a: Value, b: Value) -> Value:
    return _cross(n, a, b, True, "crossover")


def _crossunder(n: int, a: Value, b: Value) -> Value:
    return _cross(n, a, b, False, "crossunder")


def _rolling(name: str) -> Callable[..., Value]:
    def run(n: int, x: Value, bars: Value) -> Value:
        need_numeric(x, name)
        length = whole_number(bars, f"{name}: n", 1, MAX_LOOKBACK)
        roll = pd.Series(as_float_array(x, n)).rolling(length, min_periods=length)
        out = roll.max() if name == "highest" else roll.min()
        return out.to_numpy(dtype=np.float64)

    return run


def _change(n: int, x: Value, bars: Value = 1) -> Value:
    need_numeric(x, "change")
    length = whole_number(bars, "change: n", 1, MAX_LOOKBACK)
    arr = as_float_array(x, n)
    with np.errstate(all="ignore"):
        return arr - shift(arr, length)


def _unary_math(name: str, fn: Callable[[Value], Value]) -> Callable[..., Value]:
    def run(n: int, x: Value) -> Value:
        need_numeric(x, name)
        if name == "abs" and isinstance(x, int):
            return abs(x)
        with np.errstate(all="ignore"):
            out = fn(np.float64(x) if is_number(x) else x)
        return float(out) if is_number(x) else np.asarray(out, dtype=np.float64)

    return run


def _minmax(name: str, fn: Callable[[Value, Value], Value]) -> Callable[..., Value]:
    def run(n: int, a: Value, b: Value) -> Value:
        need_numeric(a, name)
        need_numeric(b, name)
        if isinstance(a, int) and isinstance(b, int):
            return min(a, b) if name == "min" else max(a, b)
        out = fn(a, b)
        return float(out) if is_number(a) and is_number(b) else np.asarray(out, dtype=np.float64)

    return run


def _round(n: int, x: Value, ndigits: Value = 0) -> Value:
    need_numeric(x, "round")
    digits = whole_number(ndigits, "round: ndigits", -10, 10)
    if is_number(x):
        r = float(np.round(np.float64(x), digits))
        return int(r) if digits <= 0 and np.isfinite(r) and abs(r) <= 2**53 else r
    return np.round(x, digits)


def _iff(n: int, cond: Value, a: Value, b: Value) -> Value:
    need_boolean(cond, "iff: the condition")
    for v in (a, b):
        p = misuse(v)
        if p is not None:
            raise p
    if is_numeric(a) and is_numeric(b):
        if isinstance(cond, bool) and not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
            return a if cond else b
        return np.where(as_array(cond, n), as_float_array(a, n), as_float_array(b, n))
    if is_boolean(a) and is_boolean(b):
        if all(isinstance(v, bool) for v in (cond, a, b)):
            return a if cond else b
        return np.where(as_array(cond, n), as_array(a, n), as_array(b, n)).astype(bool)
    raise Problem(f"iff needs both choices of the same kind, got {kind(a)} and {kind(b)}")


def _nz(n: int, x: Value, value: Value = 0) -> Value:
    p = misuse(x)
    if p is not None:
        raise p
    if is_boolean(x):
        return x
    need_numeric(value, "nz: value")
    if isinstance(x, np.ndarray):
        return np.where(np.isnan(x), as_float_array(value, n), x)
    return float(value) if isinstance(x, float) and np.isnan(x) else x


HELPERS: dict[str, Helper] = {
    h.name: h
    for h in (
        Helper("crossover", ("a", "b"), 2, "a was <= b on the previous bar and is > b now", _crossover),
        Helper("crossunder", ("a", "b"), 2, "a was >= b on the previous bar and is < b now", _crossunder),
        Helper("highest", ("x", "n"), 2, "highest x over the last n bars (this one included)", _rolling("highest")),
        Helper("lowest", ("x", "n"), 2, "lowest x over the last n bars (this one included)", _rolling("lowest")),
        Helper("change", ("x", "n"), 1, "x minus x n bars ago", _change),
        Helper("abs", ("x",), 1, "absolute value", _unary_math("abs", np.abs)),
        Helper("min", ("a", "b"), 2, "the smaller of a and b, bar by bar", _minmax("min", np.minimum)),
        Helper("max", ("a", "b"), 2, "the larger of a and b, bar by bar", _minmax("max", np.maximum)),
        Helper("round", ("x", "ndigits"), 1, "x rounded to ndigits decimals (halves to even)", _round),
        Helper("sqrt", ("x",), 1, "square root (NaN below zero)", _unary_math("sqrt", np.sqrt)),
        Helper("log", ("x",), 1, "natural logarithm (-inf at zero, NaN below)", _unary_math("log", np.log)),
        Helper("iff", ("cond", "a", "b"), 3, "a where cond is true, b where it is false", _iff),
        Helper("nz", ("x", "value"), 1, "x with missing values (NaN) replaced by value", _nz),
        Helper("input", ("name", "default"), 2, "a tunable parameter callers may override by name", None),
        Helper("plot", ("series", "title"), 1, "draw a line", None),
    )
}


def builtin_names() -> list[str]:
    """Series, helper and output names, for help and the dictionary (indicators: ``catalogue()``)."""
    return [*SERIES, *HELPERS, *OUTPUTS]


def describe(name: str) -> str | None:
    """One line of help for a built-in name, or None."""
    if name in SERIES:
        return f"{name}: {SERIES[name]}"
    if name in HELPERS:
        h = HELPERS[name]
        return f"{h.usage}: {h.description}"
    if name in OUTPUTS:
        return f"{name} = ...: {OUTPUTS[name]}"
    return None


def frame_series(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The built-in series of one candle frame as float64 arrays."""
    cols = {c: frame[c].to_numpy(dtype=np.float64, copy=True) for c in ("open", "high", "low", "close", "volume")}
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    with np.errstate(all="ignore"):
        cols["hl2"] = (h + lo) / 2.0
        cols["hlc3"] = (h + lo + c) / 3.0
        cols["ohlc4"] = (o + h + lo + c) / 4.0
    cols["bar_index"] = np.arange(len(frame), dtype=np.float64)
    return cols
