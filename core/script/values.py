"""What a script computes with, and the element-wise operations on it.

A value is one of: a series of numbers (``float64`` array, one per bar), a true/false series
(``bool`` array), a number (``int`` or ``float``; whole numbers stay ``int`` so they can be
indicator lengths), ``True``/``False``, a string (only ever a call argument) or a ``Record``
(the named series of a multi-output indicator). Operations raise ``Problem`` with a message;
the evaluator adds the place.

NaN compares false, ``!=`` included: a bar where an indicator is not defined yet never
satisfies a condition. Division by zero gives inf/NaN (numpy's rules), never an exception.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray
Scalar = int | float | bool
Value = Any  # Array | Scalar | str | Record; kept loose for the checker-free hot path

STRING_MISUSE = "strings are only allowed as arguments (a plot title, an input name)"
_INT_LIMIT = 2**53  # beyond this a whole number loses precision as a float anyway


class Problem(Exception):
    """A value-level error; the evaluator turns it into a located ``ScriptError``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Record:
    """The outputs of a multi-output indicator, by short field name (``macd(close).signal``)."""

    label: str
    fields: dict[str, Array]

    def pick_hint(self) -> str:
        names = ", ".join(self.fields)
        first = next(iter(self.fields))
        return f"{self.label}(...) gives several series ({names}): pick one, e.g. .{first}"


def is_number(v: Value) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def is_numeric(v: Value) -> bool:
    return is_number(v) or (isinstance(v, np.ndarray) and v.dtype != np.bool_)


def is_boolean(v: Value) -> bool:
    return isinstance(v, bool) or (isinstance(v, np.ndarray) and v.dtype == np.bool_)


def kind(v: Value) -> str:
    """How a value is named in messages."""
    if isinstance(v, bool):
        return "a true/false value"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, Record):
        return f"the several series of {v.label}"
    if isinstance(v, np.ndarray):
        return "a true/false series" if v.dtype == np.bool_ else "a series of numbers"
    return "nothing"


def misuse(v: Value) -> Problem | None:
    """The problem with using ``v`` in an expression at all, if any."""
    if isinstance(v, str):
        return Problem(STRING_MISUSE)
    if isinstance(v, Record):
        return Problem(v.pick_hint())
    if v is None:
        return Problem("plot(...) gives no value")
    return None


def need_numeric(v: Value, what: str) -> None:
    p = misuse(v)
    if p is not None:
        raise p
    if not is_numeric(v):
        raise Problem(f"{what} needs numbers, got {kind(v)}")


def need_boolean(v: Value, what: str) -> None:
    p = misuse(v)
    if p is not None:
        raise p
    if not is_boolean(v):
        raise Problem(f"{what} needs true/false values, got {kind(v)}")


def as_array(v: Value, n: int) -> Array:
    """A series of length ``n`` (numbers broadcast; bool stays bool)."""
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, bool):
        return np.full(n, v, dtype=bool)
    return np.full(n, float(v), dtype=np.float64)


def as_float_array(v: Value, n: int) -> Array:
    arr = as_array(v, n)
    return arr.astype(np.float64) if arr.dtype == np.bool_ else arr


def _int_or_float(r: int) -> int | float:
    return r if -_INT_LIMIT <= r <= _INT_LIMIT else float(r)


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.true_divide,
    "%": np.mod,
}
_PY_INT: dict[str, Callable[[int, int], int]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def arithmetic(op: str, a: Value, b: Value) -> Value:
    for v in (a, b):
        need_numeric(v, f"'{op}'")
    if isinstance(a, int) and isinstance(b, int):
        if op in _PY_INT:
            return _int_or_float(_PY_INT[op](a, b))
        if op == "%" and b != 0:
            return a % b
    if not isinstance(a, np.ndarray) and not isinstance(b, np.ndarray):
        with np.errstate(all="ignore"):
            return float(_ARITH[op](np.float64(a), np.float64(b)))
    with np.errstate(all="ignore"):
        return np.asarray(_ARITH[op](a, b), dtype=np.float64)


def negate(v: Value) -> Value:
    need_numeric(v, "'-'")
    if isinstance(v, int):
        return -v
    if isinstance(v, float):
        return -v
    return np.negative(v)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def compare(op: str, a: Value, b: Value) -> Value:
    for v in (a, b):
        p = misuse(v)
        if p is not None:
            raise p
    if is_numeric(a) and is_numeric(b):
        with np.errstate(all="ignore"):
            result = _COMPARE[op](a, b)
            if op == "!=":
                result = result & ~(np.isnan(a) | np.isnan(b))
    elif is_boolean(a) and is_boolean(b):
        if op not in ("==", "!="):
            raise Problem(f"'{op}' needs numbers, got true/false values")
        result = _COMPARE[op](a, b)
    else:
        raise Problem(f"cannot compare {kind(a)} with {kind(b)}")
    if isinstance(result, np.ndarray) and result.ndim > 0:
        return result.astype(bool, copy=False)
    return bool(result)


def logic(op: str, a: Value, b: Value) -> Value:
    for v in (a, b):
        p = misuse(v)
        if p is not None:
            raise p
        if not is_boolean(v):
            raise Problem(f"'{op}' needs true/false values, got {kind(v)}")
    result = np.logical_and(a, b) if op == "and" else np.logical_or(a, b)
    return result if isinstance(result, np.ndarray) and result.ndim > 0 else bool(result)


def invert(v: Value) -> Value:
    p = misuse(v)
    if p is not None:
        raise p
    if not is_boolean(v):
        raise Problem(f"'not' needs a true/false value, got {kind(v)}")
    return (not v) if isinstance(v, bool) else np.logical_not(v)


def shift(v: Value, bars: int) -> Value:
    """The value ``bars`` bars ago: NaN (False for true/false series) where there is none."""
    if isinstance(v, str):
        raise Problem(STRING_MISUSE)
    if isinstance(v, Record):
        return Record(v.label, {k: shift(s, bars) for k, s in v.fields.items()})
    if not isinstance(v, np.ndarray) or bars == 0:
        return v
    out = np.empty(len(v), dtype=v.dtype)
    out[:bars] = False if v.dtype == np.bool_ else np.nan  # each bar written once, not filled then copied over
    if bars < len(v):
        out[bars:] = v[: len(v) - bars]
    return out


def whole_number(v: Value, what: str, low: int, high: int) -> int:
    """A fixed whole number in ``low..high`` (a window length, a look-back, a digit count)."""
    p = misuse(v)
    if p is not None:
        raise p
    if isinstance(v, np.ndarray):
        raise Problem(f"{what} must be a fixed whole number, not a series")
    if not is_number(v) or not math.isfinite(v) or float(v) != math.floor(v):
        shown = kind(v) if not is_number(v) else _fmt(v)
        raise Problem(f"{what} must be a whole number from {low} to {high}, got {shown}")
    if not low <= v <= high:
        raise Problem(f"{what} must be a whole number from {low} to {high}, got {_fmt(v)}")
    return int(v)


def _fmt(v: float | int) -> str:
    if isinstance(v, int):
        return str(v)
    return f"{v:g}"
