"""Rule text: what users type after ``/rule add`` and what each analytic accepts.

Several rules arrive at once, one per line or separated by ``;``, each ``ACTION CONDITION``
(``buy rsi(close, 14) < 30``, ``sell: crossunder(close, sma(close, 50))``). Technical
conditions are expressions of the script language; fundamental ones compare a metric with a
number (``pe < 15``, ``roe > 15%``, ``market_cap > 10T``); bandarmology ones compare a
broker-summary metric (``net_value > 0``, ``top3_ratio > 1.5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import numpy as np
import pandas as pd

from core.errors import Invalid
from core.labels import did_you_mean
from core.market.conditions import compare, parse_number
from core.market.fundamentals import METRICS as FUNDAMENTALS

__all__ = ["BANDAR_METRICS", "MAX_RULES", "Analytic", "RuleSpec", "compare", "metric_condition", "split_rules"]


class Analytic(StrEnum):
    TECHNICAL = "Technical"
    FUNDAMENTAL = "Fundamental"
    BANDARMOLOGY = "Bandarmology"

    @classmethod
    def parse(cls, text: str) -> Analytic:
        for member in cls:
            if member.value.lower() == (text or "").strip().lower():
                return member
        raise Invalid(f"unknown analytic '{text}'", hint="one of: Technical, Fundamental, Bandarmology")


MAX_RULES = 20
MAX_CONDITION = 500


@dataclass(frozen=True, slots=True)
class RuleSpec:
    action: str  # buy | sell for technical rules, screen for fundamental and bandarmology ones
    condition: str


# Bandarmology metrics, read from the broker summary once that domain serves them.
BANDAR_METRICS = ("net_value", "net_volume", "top3_buy_value", "top3_sell_value", "top3_ratio", "foreign_net")

_OPS = ("<=", ">=", "==", "!=", "<", ">")
_NUMBER_HINT = "e.g. 15, 0.15, 15%, 10T"
_ACTION = re.compile(r"^(buy|sell)\b\s*:?\s*(.*)$", re.I | re.S)
_METRIC_RULE = re.compile(r"^([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)$")


def split_rules(text: str, analytic: Analytic) -> list[RuleSpec]:
    """Every rule in ``text``, checked for ``analytic``; Invalid names the first bad one."""
    pieces = [p.strip() for p in re.split(r"[;\n]", text or "") if p.strip()]
    if not pieces:
        raise Invalid("no rule given", hint=_usage(analytic))
    if len(pieces) > MAX_RULES:
        raise Invalid(f"at most {MAX_RULES} rules at once, got {len(pieces)}")
    return [parse_rule(piece, analytic) for piece in pieces]


def parse_rule(text: str, analytic: Analytic) -> RuleSpec:
    if analytic is Analytic.TECHNICAL:
        match = _ACTION.match(text.strip())
        if match is None:
            word = text.strip().split(" ", 1)[0][:20]
            raise Invalid(f"a technical rule starts with buy or sell, not '{word}'", hint=_usage(analytic))
        action, condition = match.group(1).lower(), match.group(2)
        condition = condition.strip()
        if len(condition) > MAX_CONDITION:
            raise Invalid(f"a condition has at most {MAX_CONDITION} characters")
        from core.script import condition_of, evaluate_condition

        # Parsing finds names and syntax; a dry run on a small made-up series finds the rest
        # (a number where a true/false is needed, wrong indicator arguments) before it is saved.
        evaluate_condition(condition_of(condition), _probe_frame())
        return RuleSpec(action, condition)
    head, _, rest = text.partition(" ")
    if head.rstrip(":").lower() in ("screen", "buy", "sell"):
        text = rest  # "buy pe < 15" reads as a screen: fundamentals say what to hold, not when
    metric, op, value = _metric_rule(text, analytic)
    percent = FUNDAMENTALS.get(metric, ("", "", False))[2] if analytic is Analytic.FUNDAMENTAL else False
    shown = f"{_fmt(value * 100)}%" if percent else _fmt(value)  # stored as users write it: roe > 15%
    return RuleSpec("screen", f"{metric} {op} {shown}")


@cache
def _probe_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 5_001)))  # room for the longest length (5,000)
    spread = close * 0.01
    index = pd.date_range("2024-01-01", periods=len(close), freq="D", tz="UTC")
    return pd.DataFrame(
        {"open": close, "high": close + spread, "low": close - spread, "close": close, "volume": 1e6}, index=index
    )


def metric_condition(condition: str) -> tuple[str, str, float]:
    """A stored fundamental or bandarmology rule as (metric, operator, value)."""
    match = _METRIC_RULE.match(condition.strip())
    if match is None:  # stored rules were checked on the way in
        raise Invalid(f"unreadable rule '{condition}'")
    return match.group(1), match.group(2), _scaled(match.group(3))


def _metric_rule(text: str, analytic: Analytic) -> tuple[str, str, float]:
    compact = text.strip()
    op = next((o for o in _OPS if o in compact), None)
    if op is None:
        raise Invalid(f"'{compact}' has no comparison (< <= > >= == !=)", hint=_usage(analytic))
    left, _, right = compact.partition(op)
    metric = left.strip().lower()
    known = list(FUNDAMENTALS) if analytic is Analytic.FUNDAMENTAL else list(BANDAR_METRICS)
    if metric not in known:
        raise Invalid(f"unknown {analytic.value.lower()} metric '{metric}'{did_you_mean(metric, known)}",
                      hint="metrics: " + ", ".join(known))  # fmt: skip
    return metric, op, _scaled(right.strip())


def _scaled(text: str) -> float:
    """``15`` -> 15, ``15%`` -> 0.15, ``10T`` -> 1e13; Invalid for anything else, 1e400 included."""
    number = parse_number(text, hint=_NUMBER_HINT)
    if number is None:
        raise Invalid(f"'{text}' is not a number", hint=_NUMBER_HINT)
    return number.value / 100 if number.percent else number.value


def _fmt(value: float) -> str:
    return f"{value:.10g}"


def _usage(analytic: Analytic) -> str:
    if analytic is Analytic.TECHNICAL:
        return "e.g. buy rsi(close, 14) < 30; sell crossunder(close, sma(close, 50))"
    if analytic is Analytic.FUNDAMENTAL:
        return "e.g. pe < 15; roe > 15%; market_cap > 10T"
    return "e.g. net_value > 0; top3_ratio > 1.5"
