"""Watch conditions as users type them: ``rsi<30``, ``close>=ema:50``, ``change>5``.

Grammar: ``LHS OP RHS`` where OP is ``< <= > >= == !=`` (``=`` means ``==``) or
``crosses above`` / ``crosses below``, and each side is

- a number: ``30``, ``9500``, ``-2.5``, ``1.5m`` (k, m, b, t suffixes; ``%`` next to ``change``);
- a field of the last bar: ``price`` (= ``close``), ``open high low close volume``, or
  ``change`` (percent change against the previous close);
- an indicator spec ``name[:p1[:p2..]][.field]``: ``rsi``, ``rsi:21``, ``ema:50``,
  ``bbands:20:2.lower``, validated by ``core.market.indicator_specs.parse_spec``.

A condition with a number on the left is turned round (``30>rsi`` is ``rsi<30``) so the
left-hand value is always the series worth showing and equal conditions compare equal
as text. Evaluation looks at the last bar; an undefined value (NaN: too few bars for the
indicator) makes the result unknown (``met=None``), never false.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import Invalid

if TYPE_CHECKING:
    import pandas as pd

    from core.market.indicator_specs import IndicatorSpec

_LENGTHS = {"adx": 3}  # indicator lengths to fetch, by name (default 2)
EXAMPLES = "rsi<30, rsi:21<30, price>9500, close>=ema:50, price<bbands:20:2.lower, change>5, volume>1m"
MAX_LENGTH = 200  # the column width in the watches table

# canonical field name -> frame column (change is derived from close)
FIELDS = {
    "price": "close",
    "close": "close",
    "open": "open",
    "high": "high",
    "low": "low",
    "volume": "volume",
}
CHANGE = "change"

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_FLIPPED = {
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
    "==": "==",
    "!=": "!=",
    "crosses above": "crosses below",
}
_FLIPPED["crosses below"] = "crosses above"
_OPERATOR = re.compile(
    r"\s*(crosses\s+above|crosses\s+below|cross\s+above|cross\s+below|<=|>=|==|!=|=<|=>|<|>)\s*"
)
# A bare "=" is also how indicators take named parameters (supertrend:10:multiplier=2), so it
# only counts as "==" when nothing else compares and no indicator parameter comes before it.
_BARE_EQUALS = re.compile(r"^([^:(=]+?)\s*=\s*([^=]+)$")
_SPELLING = {"=<": "<=", "=>": ">="}
_OPS_HELP = "< <= > >= == != or crosses above / crosses below"
_NUMBER = re.compile(r"^([+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)([kmbt]?)(%?)$")
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_SPEC_SHAPE = re.compile(r"^[a-z_][a-z0-9_]*(?:[:(][a-z0-9_.,:=+()-]*)?$")


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    percent: bool = False

    @property
    def text(self) -> str:
        return _format_number(self.value) + ("%" if self.percent else "")


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # a key of FIELDS, or "change"

    @property
    def text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Indicator:
    spec: IndicatorSpec = field(compare=False)
    spec_text: str  # canonical spec text, without the field
    field: str | None = None
    params: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        return self.spec_text + (f".{self.field}" if self.field else "")


Operand = Number | Field | Indicator


@dataclass(frozen=True, slots=True)
class ConditionStatus:
    """A condition checked on the last bar; ``met`` is None when a value is undefined."""

    lhs_value: float | None
    rhs_value: float | None
    met: bool | None


@dataclass(frozen=True, slots=True)
class Condition:
    lhs: Operand
    op: str  # "<", "<=", ">", ">=", "==", "!=", "crosses above", "crosses below"
    rhs: Operand

    @property
    def text(self) -> str:
        """Canonical spelling: how it is stored and shown, and what makes two conditions the same."""
        if self.op.startswith("crosses"):
            return f"{self.lhs.text} {self.op} {self.rhs.text}"
        return f"{self.lhs.text}{self.op}{self.rhs.text}"

    def __str__(self) -> str:
        return self.text

    def indicator_specs(self) -> list[IndicatorSpec]:
        """The ``IndicatorSpec`` of each side that is an indicator (for charts and prefetching)."""
        return [side.spec for side in (self.lhs, self.rhs) if isinstance(side, Indicator)]

    def bars_needed(self) -> int:
        """Roughly how many bars the indicators need to settle, to choose how far back to fetch: two
        lengths and some, three for ADX's family (ADXR, its slowest line, starts at bar 3 * length - 2)."""
        sides = [side for side in (self.lhs, self.rhs) if isinstance(side, Indicator)]
        return max([30, *(int(_LENGTHS.get(side.spec.name, 2) * max((abs(p) for p in side.params), default=0.0)) + 10
                          for side in sides)])  # fmt: skip

    def evaluate(self, frame: pd.DataFrame) -> ConditionStatus:
        """Both sides and the verdict on the last bar of ``frame`` (columns open/high/low/close/volume).

        An undefined value gives ``met=None``; an indicator longer than the whole series raises
        the library's ``Invalid`` ("EMA(200) needs more bars than the 120 available").
        """
        if frame.empty:
            return ConditionStatus(None, None, None)
        computed: dict[str, Any] = {}
        lhs = _series_or_scalar(self.lhs, frame, computed)
        rhs = _series_or_scalar(self.rhs, frame, computed)
        lhs_now, rhs_now = _at(lhs, -1), _at(rhs, -1)
        if lhs_now is None or rhs_now is None:
            return ConditionStatus(lhs_now, rhs_now, None)
        if self.op.startswith("crosses"):
            lhs_before, rhs_before = _at(lhs, -2), _at(rhs, -2)
            if lhs_before is None or rhs_before is None:
                return ConditionStatus(lhs_now, rhs_now, None)
            if self.op == "crosses above":
                met = lhs_before <= rhs_before and lhs_now > rhs_now
            else:
                met = lhs_before >= rhs_before and lhs_now < rhs_now
            return ConditionStatus(lhs_now, rhs_now, met)
        return ConditionStatus(lhs_now, rhs_now, _COMPARISONS[self.op](lhs_now, rhs_now))


def parse_condition(text: str) -> Condition:
    """Parse what a user typed; ``Invalid`` saying what is wrong, with examples, otherwise."""
    raw = (text or "").strip().lower()
    if not raw:
        raise _invalid("empty condition")
    if len(raw) > MAX_LENGTH:
        raise _invalid(f"condition too long (at most {MAX_LENGTH} characters)")
    parts = _OPERATOR.split(raw)
    if len(parts) == 1 and (bare := _BARE_EQUALS.match(raw)) is not None:
        parts = [bare.group(1), "==", bare.group(2)]
    if len(parts) != 3:
        what = "no comparison" if len(parts) == 1 else "more than one comparison"
        raise _invalid(f"'{text.strip()}' has {what}: write it as LEFT OP RIGHT with OP one of {_OPS_HELP}")
    left, op, right = parts
    op = _SPELLING.get(op, " ".join(op.replace("cross ", "crosses ").split()))
    if not left or not right:
        raise _invalid(f"'{text.strip()}' needs something on both sides of {op}")
    lhs, rhs = _operand(left), _operand(right)
    if isinstance(lhs, Number) and isinstance(rhs, Number):
        raise _invalid("compare a price, field or indicator, not two numbers")
    if isinstance(lhs, Number):
        lhs, op, rhs = rhs, _FLIPPED[op], lhs
    if isinstance(rhs, Number) and rhs.percent and lhs != Field(CHANGE):
        raise _invalid("a percentage only goes with change, as in change>5%")
    condition = Condition(lhs, op, rhs)
    if len(condition.text) > MAX_LENGTH:
        raise _invalid(f"condition too long (at most {MAX_LENGTH} characters)")
    return condition


def _invalid(message: str) -> Invalid:
    return Invalid(message, hint=f"examples: {EXAMPLES}")


def parse_number(text: str, hint: str | None = None) -> Number | None:
    """``30``, ``-2.5``, ``1.5m``, ``10T``, ``5%`` (case and inner spaces ignored) as a ``Number``
    (``percent`` set, value as written); None when ``text`` is not shaped like a number.
    ``Invalid`` (with ``hint``) when it is but its value is not finite (``1e400``)."""
    token = "".join(text.split()).lower()
    number = _NUMBER.match(token)
    if number is None:
        return None
    digits, scale, percent = number.groups()
    try:
        value = float(digits.replace("_", "")) * _SCALE[scale]
    except ValueError:
        raise Invalid(f"'{text.strip()}' is not a number", hint=hint) from None
    if not math.isfinite(value):
        raise Invalid(f"'{text.strip()}' is not a finite number", hint=hint)
    return Number(value, percent=bool(percent))


def compare(left: float, op: str, right: float) -> bool:
    """``left OP right`` for OP one of ``< <= > >= == !=``."""
    return _COMPARISONS[op](left, right)


def _operand(text: str) -> Operand:
    token = "".join(text.split())
    if (number := parse_number(token, hint=f"examples: {EXAMPLES}")) is not None:
        return number
    if token in FIELDS:
        return Field(token)
    if token in (CHANGE, "change%", "chg", "pct"):
        return Field(CHANGE)
    return _indicator(token, text)


def _indicator(token: str, typed: str) -> Indicator:
    spec_text, dot, field_name = token.rpartition(".")
    if not dot or not field_name[:1].isalpha():  # no field, or the dot was a decimal point
        spec_text, field_name = token, ""
    if not _SPEC_SHAPE.match(spec_text):
        known = " ".join([*FIELDS, CHANGE])
        raise _invalid(f"'{typed.strip()}' is not a number, a field ({known}) or an indicator like ema:50")
    # the indicator modules are imported on first use: they load numpy and pandas
    from core.market.indicator_catalogue import info
    from core.market.indicator_specs import parse_spec

    try:
        spec = parse_spec(spec_text)
    except Invalid as exc:  # it names the problem (unknown name, bad parameter); add an example
        raise Invalid(exc.message, hint=exc.hint or f"examples: {EXAMPLES}") from None
    fields = tuple(info(spec.name).fields)
    if field_name and fields and field_name not in fields:
        raise _invalid(f"{spec.name} has no field '{field_name}'; its fields: {' '.join(fields)}")
    if len(fields) <= 1 and field_name in fields:
        field_name = ""  # rsi.rsi is rsi
    elif len(fields) > 1 and not field_name:
        field_name = fields[0]  # spell out which line of bbands is meant: bbands:20:2.lower
    params = tuple(float(a) for a in spec.args)
    return Indicator(spec=spec, spec_text=spec.text, field=field_name or None, params=params)


def _series_or_scalar(side: Operand, frame: pd.DataFrame, computed: dict[str, Any]) -> Any:
    if isinstance(side, Number):
        return side.value
    if isinstance(side, Field):
        if side.name == CHANGE:
            return frame["close"].pct_change(fill_method=None) * 100.0
        return frame[FIELDS[side.name]]
    result = computed.get(side.spec_text)
    if result is None:
        from core.market.indicator_compute import compute

        result = computed[side.spec_text] = compute(frame, side.spec)
    if side.field is None:
        return result.primary
    if side.field not in result.fields:
        names = " ".join(result.fields)
        raise _invalid(f"{side.spec_text} has no field '{side.field}'; its fields: {names}")
    return result.fields[side.field]


def _at(values: Any, position: int) -> float | None:
    """The value at ``position`` (a scalar stands for every bar); None when missing or NaN."""
    if isinstance(values, float):
        return values
    if len(values) < -position:
        return None
    value = values.iloc[position]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
