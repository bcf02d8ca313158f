"""Indicator specs as users type them (``rsi:21``, ``macd:12:26:9``, ``bbands(20,2)``), checked and made canonical.

pandas-ta silently replaces parameters of the wrong type or out of range by its defaults; here they
are validated first (lengths whole numbers 1..5000, multipliers positive, bounded ones within their
bounds) and the error says what is wrong and how the indicator is written. A spec's canonical text
shows the leading parameters people expect (``rsi:14``, ``macd:12:26:9``) and leaves out trailing
ones equal to their defaults, so ``rsi`` and ``rsi:14`` are one spec, computed once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import Invalid
from core.market.indicator_catalogue import Entry, IndicatorInfo, Number, find_entry

MAX_LENGTH = 5000
"""Longest window a user may ask for (SCRIPT.md: indicator lengths 1..5,000)."""

MAX_FLOAT = 1e9
"""Largest value a scale parameter (a multiplier, a level) may take."""


@dataclass(frozen=True)
class IndicatorSpec:
    """A parsed ``name:arg:arg``. ``args`` are positional in ``IndicatorInfo.params`` order."""

    name: str
    args: tuple[float | int, ...]
    text: str

    @property
    def label(self) -> str:
        """``RSI(21)``: for chart legends and titles."""
        upper = self.name.upper()
        return f"{upper}({','.join(_fmt(a) for a in self.args)})" if self.args else upper

    def __str__(self) -> str:
        return self.text


_SPEC_SHAPE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:[:(,\s]\s*(.*?))?\s*\)?\s*$")


def parse_spec(text: str) -> IndicatorSpec:
    """``rsi``, ``rsi:21``, ``macd:12:26:9``, ``bbands(20,2)``, ``supertrend:10:multiplier=2``.

    Raises ``Invalid`` naming the problem: unknown name (with the nearest one), too many
    parameters, a parameter that is not a number, a length outside 1..5000 and so on.
    """
    raw = (text or "").strip()
    m = _SPEC_SHAPE.match(raw)
    if not raw or m is None:
        raise Invalid(f"'{text}' is not an indicator: write it like rsi, rsi:21 or bbands:20:2")
    entry = find_entry(m.group(1))
    inf = entry.info
    positional: list[Number] = []
    named: dict[str, Number] = {}
    body = (m.group(2) or "").strip().rstrip(")")
    if body:
        for part in re.split(r"[:,\s]+", body):
            if not part:
                continue
            if "=" in part:
                key, _, value = part.partition("=")
                key = key.strip().lower()
                if key not in {p.name for p in inf.params}:
                    raise Invalid(
                        f"{inf.name} has no parameter '{key}'" + _suggest_param(key, inf),
                        hint=f"usage: {inf.usage}",
                    )
                named[key] = _number(value, inf, key)
            else:
                if named:
                    raise Invalid(f"in '{text}', put plain numbers before name=value parameters")
                positional.append(_number(part, inf, None))
    return make_spec(entry, positional, named)


def _suggest_param(word: str, inf: IndicatorInfo) -> str:
    near = difflib.get_close_matches(word, [p.name for p in inf.params], n=1, cutoff=0.5)
    return f" — did you mean '{near[0]}'?" if near else ""


def _number(text: str, inf: IndicatorInfo, pname: str | None) -> Number:
    t = text.strip()
    try:
        value = float(t)
    except ValueError:
        what = f"parameter '{pname}'" if pname else "parameters"
        raise Invalid(f"{inf.name} {what} must be numbers, not '{t}'", hint=f"usage: {inf.usage}") from None
    if not math.isfinite(value):
        raise Invalid(f"{inf.name}: '{t}' is not a usable number", hint=f"usage: {inf.usage}")
    return int(value) if value.is_integer() and "." not in t and "e" not in t.lower() else value


def make_spec(entry: Entry, positional: Sequence[Number], named: Mapping[str, Number]) -> IndicatorSpec:
    """The canonical spec for ``positional`` parameters (in ``IndicatorInfo.params`` order), then ``named``."""
    inf = entry.info
    params = inf.params
    if len(positional) > len(params):
        if not params:
            raise Invalid(f"{inf.name} takes no parameters", hint=f"usage: {inf.name}")
        raise Invalid(
            f"{inf.name} takes at most {len(params)} parameter{'s' if len(params) > 1 else ''} "
            f"({', '.join(p.name for p in params)}), got {len(positional)}",
            hint=f"usage: {inf.usage}",
        )
    given: dict[str, Number] = {p.name: v for p, v in zip(params, positional, strict=False)}
    for k, named_value in named.items():
        if k in given:
            raise Invalid(f"{inf.name}: parameter '{k}' given twice", hint=f"usage: {inf.usage}")
        given[k] = named_value
    values = validate(entry, given)

    last_given = max((i for i, p in enumerate(params) if p.name in given), default=-1)
    count = max(entry.headline, last_given + 1)
    args: list[Number] = []
    for p in params[:count]:
        v: Number | None = values.get(p.name)
        if v is None:
            v = entry.default(p.name, values)
        if v is None:
            if p.name in given or any(q.name in given for q in params[params.index(p) + 1 :]):
                raise Invalid(
                    f"{inf.name}: give '{p.name}' too when setting a later parameter",
                    hint=f"usage: {inf.usage}",
                )
            break
        args.append(v)
    # trailing parameters equal to their defaults add nothing to the canonical text
    while len(args) > entry.headline and args[-1] == entry.default(
        params[len(args) - 1].name, dict(zip((p.name for p in params), args, strict=False))
    ):
        args.pop()
    text = ":".join([inf.name, *(_fmt(a) for a in args)])
    return IndicatorSpec(inf.name, tuple(args), text)


def validate(entry: Entry, given: Mapping[str, Any]) -> dict[str, Number]:
    """Type and range check every given parameter; returns them converted to their kind."""
    inf = entry.info
    out: dict[str, Number] = {}
    for pname, value in given.items():
        try:
            p = inf.param(pname)
        except KeyError:
            raise Invalid(
                f"{inf.name} has no parameter '{pname}'" + _suggest_param(pname, inf),
                hint=f"usage: {inf.usage}",
            ) from None
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise Invalid(f"{inf.name}: '{pname}' must be a number", hint=f"usage: {inf.usage}")
        v = float(value)
        if not math.isfinite(v):
            raise Invalid(f"{inf.name}: '{pname}' must be a finite number")
        bounds = entry.bounds.get(pname)
        if p.kind is int:
            if not v.is_integer():
                raise Invalid(
                    f"{inf.name}: '{pname}' must be a whole number, not {_fmt(v)}", hint=f"usage: {inf.usage}"
                )
            if not 1 <= v <= MAX_LENGTH:
                raise Invalid(
                    f"{inf.name}: '{pname}' must be between 1 and {MAX_LENGTH}, not {_fmt(v)}",
                    hint=f"usage: {inf.usage}",
                )
            out[pname] = int(v)
        elif bounds:
            lo, hi, lo_inclusive = bounds
            if not ((lo <= v) if lo_inclusive else (lo < v)) or v > hi:
                op = "<=" if lo_inclusive else "<"
                raise Invalid(
                    f"{inf.name}: '{pname}' must satisfy {_fmt(lo)} {op} {pname} <= {_fmt(hi)}, not {_fmt(v)}",
                    hint=f"usage: {inf.usage}",
                )
            out[pname] = v
        else:
            if not 0 < v <= MAX_FLOAT:
                raise Invalid(
                    f"{inf.name}: '{pname}' must be a positive number, not {_fmt(v)}",
                    hint=f"usage: {inf.usage}",
                )
            out[pname] = v
    return out


def _fmt(x: float | int) -> str:
    if isinstance(x, int) or float(x).is_integer():
        return str(int(x))
    return f"{x:g}"
