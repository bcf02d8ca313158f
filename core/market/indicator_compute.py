"""Computing indicators on bars: ``compute`` for charts and alerts, ``call`` for the script language.

pandas-ta is always called with keywords, so a parameter can never land in another's slot, and its
columns are mapped onto the catalogue's short field names. Indicators TA-Lib also computes come
from TA-Lib instead (``core.market.indicator_talib``).

``compute_many`` runs in compute workers (``core.compute``), which pickle functions by name: it and
everything it is handed must stay module-level and importable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import Invalid
from core.market import indicator_talib
from core.market.indicator_catalogue import Entry, IndicatorInfo, Number, find_entry, pandas_ta
from core.market.indicator_specs import IndicatorSpec, make_spec, parse_spec, validate

_PANDAS_TA_NAME = {"open": "open_"}  # frame column -> pandas-ta parameter, where they differ

_NEEDS_TIME_INDEX = frozenset({"pivots", "vwap"})  # anchored to calendar periods


@dataclass
class IndicatorResult:
    """Output series of one indicator, aligned to the input index, keyed by short field name."""

    spec: IndicatorSpec
    info: IndicatorInfo
    fields: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def overlay(self) -> bool:
        return self.info.overlay

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def primary(self) -> pd.Series:
        return (
            self.fields[self.info.fields[0]]
            if self.info.fields[0] in self.fields
            else next(iter(self.fields.values()))
        )

    def last(self) -> dict[str, float | None]:
        """Every field on the last bar where the indicator has any value (None where a field has none).

        One bar for all fields: a field empty on that bar stays None rather than showing an older
        value. Supertrend's ``long`` is empty while the trend is down, and its last value belongs
        to an earlier trend; trailing bars with no value at all (a gap in the data) are skipped.
        """
        return _last_values(self.fields)

    def tail(self, n: int) -> IndicatorResult:
        """The same result restricted to the last ``n`` bars (charts draw a window of the series)."""
        return IndicatorResult(self.spec, self.info, {k: v.iloc[-n:] for k, v in self.fields.items()})


def _last_values(fields: dict[str, pd.Series]) -> dict[str, float | None]:
    if not fields:
        return {}
    frame = pd.DataFrame(fields)
    rows = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    if not len(rows):
        return dict.fromkeys(fields)
    row = frame.iloc[rows[-1]]
    return {name: (None if pd.isna(row[name]) else float(row[name])) for name in fields}


def compute(frame: pd.DataFrame, spec: IndicatorSpec | str, *, talib: bool | None = None) -> IndicatorResult:
    """Compute one indicator on an OHLCV frame (lower-case columns); fields share the frame's index.

    ``talib`` forces pandas-ta's TA-Lib path on or off for indicators computed by pandas-ta; None
    uses TA-Lib when installed, as pandas-ta does. Indicators TA-Lib also computes
    (``core.market.indicator_talib``) always come from TA-Lib.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    entry = find_entry(spec.name)
    inf = entry.info
    missing = [c for c in inf.inputs if c not in frame.columns]
    if missing:
        raise Invalid(f"{spec.label} needs {', '.join(missing)} data, which this series lacks")
    if len(spec.args) > len(inf.params):
        raise Invalid(f"{spec.label}: too many parameters", hint=f"usage: {inf.usage}")
    series = [frame[c] for c in inf.inputs]
    values = dict(zip((p.name for p in inf.params), spec.args, strict=False))
    fields = _run(entry, spec.label, series, {}, validate(entry, values), talib)
    return IndicatorResult(spec, inf, fields)


def compute_many(
    frame: pd.DataFrame, specs: Iterable[IndicatorSpec | str], *, talib: bool | None = None
) -> list[IndicatorResult]:
    """Compute several indicators; the same spec asked twice is computed once."""
    done: dict[IndicatorSpec, IndicatorResult] = {}
    out: list[IndicatorResult] = []
    for spec in specs:
        parsed = parse_spec(spec) if isinstance(spec, str) else spec
        if parsed not in done:
            done[parsed] = compute(frame, parsed, talib=talib)
        out.append(done[parsed])
    return out


def call(name: str, *args: Any, **kwargs: Any) -> pd.Series | dict[str, pd.Series]:
    """The script language's entry: ``call("rsi", close, 14)``, ``call("macd", close, signal=5)``.

    Series come first, positionally (or by input name: ``close=hl2``); numbers follow in
    ``IndicatorInfo.params`` order or by keyword. Returns the single series, or a dict of short
    field name -> series for multi-output indicators. Every problem is an ``Invalid``.
    """
    entry = find_entry(name)
    inf = entry.info
    slots = [*inf.inputs, *entry.optional_inputs]
    series: dict[str, pd.Series] = {}
    numbers: list[Any] = []
    for a in args:
        if isinstance(a, pd.Series):
            if numbers:
                raise Invalid(f"{inf.name}: give the series ({', '.join(inf.inputs)}) before the numbers")
            if len(series) >= len(slots):
                raise Invalid(f"{inf.name} takes {len(inf.inputs)} series: {', '.join(inf.inputs)}")
            series[slots[len(series)]] = a
        else:
            numbers.append(a)
    params_kw: dict[str, Any] = {}
    for k, v in kwargs.items():
        key = "open" if k == "open_" else k
        if isinstance(v, pd.Series):
            if key not in slots:
                raise Invalid(
                    f"{inf.name} has no input series '{k}'", hint=f"inputs: {', '.join(inf.inputs)}"
                )
            if key in series:
                raise Invalid(f"{inf.name}: series '{k}' given twice")
            series[key] = v
        else:
            params_kw[key] = v
    missing = [s for s in inf.inputs if s not in series]
    if missing:
        raise Invalid(
            f"{inf.name} needs {len(inf.inputs)} series ({', '.join(inf.inputs)}); missing {', '.join(missing)}"
        )
    if len(numbers) > len(inf.params):
        raise Invalid(
            f"{inf.name} takes at most {len(inf.params)} number{'s' if len(inf.params) != 1 else ''} "
            f"({', '.join(p.name for p in inf.params) or 'none'}), got {len(numbers)}",
            hint=f"usage: {inf.usage}",
        )
    given: dict[str, Any] = dict(zip((p.name for p in inf.params), numbers, strict=False))
    for k, v in params_kw.items():
        if k in given:
            raise Invalid(f"{inf.name}: parameter '{k}' given twice")
        given[k] = v
    values = validate(entry, given)
    lengths = {len(s) for s in series.values()}
    if len(lengths) > 1:
        raise Invalid(f"{inf.name}: input series have different lengths")
    ordered = [series[s] for s in inf.inputs]
    extra = {s: series[s] for s in entry.optional_inputs if s in series}
    spec = make_spec(entry, [], values)
    fields = _run(entry, spec.label, ordered, extra, values, None)
    if len(fields) == 1:
        return next(iter(fields.values()))
    return fields


def _run(
    entry: Entry,
    label: str,
    inputs: Sequence[pd.Series],
    optional: Mapping[str, pd.Series],
    values: Mapping[str, Number],
    talib: bool | None,
) -> dict[str, pd.Series]:
    """Call pandas-ta with keywords only and map its columns onto the short field names."""
    inf = entry.info
    index = inputs[0].index
    if len(index) == 0:
        raise Invalid(f"{label}: no bars to compute on")
    if inf.name in _NEEDS_TIME_INDEX and not isinstance(index, pd.DatetimeIndex):
        raise Invalid(f"{label} needs bars with timestamps")
    kwargs: dict[str, Any] = {}
    for col, s in [*zip(inf.inputs, inputs, strict=True), *optional.items()]:
        kwargs[_PANDAS_TA_NAME.get(col, col)] = pd.Series(
            pd.to_numeric(s, errors="coerce"), index=s.index, dtype="float64"
        )
    expand = entry.expand
    for pname, v in values.items():
        if pname in expand:
            for target in expand[pname]:
                kwargs[target] = v
        else:
            kwargs[pname] = float(v) if pname in entry.passed_as_float else v
    every = _all_values(entry, values)
    talib_fn = indicator_talib.twin(inf.name, every)
    if talib_fn is not None:
        return _run_twin(talib_fn, entry, label, kwargs, every)
    forced = entry.forced
    if talib is not None and entry.accepts_talib and "talib" not in forced:
        kwargs["talib"] = talib
    kwargs.update(forced)

    try:
        result: Any = getattr(pandas_ta(), inf.name)(**kwargs)
    except (ValueError, IndexError, ZeroDivisionError, FloatingPointError, KeyError) as e:
        raise Invalid(f"{label} could not be computed on this data ({type(e).__name__})") from e
    if isinstance(result, tuple):
        result = result[0]
    if result is None:
        raise Invalid(f"{label} needs more bars than the {len(index)} available")
    if isinstance(result, pd.Series):
        frame = result.to_frame()
    elif isinstance(result, pd.DataFrame):
        frame = result
    else:  # pragma: no cover - guarded by the catalogue test
        raise Invalid(f"{label} returned an unexpected result")
    names = (
        inf.fields if len(frame.columns) == len(inf.fields) else derive_fields(inf.name, list(frame.columns))
    )
    out: dict[str, pd.Series] = {}
    for fname, col in zip(names, frame.columns, strict=True):
        s = frame[col]
        if not s.index.equals(index):
            s = s.reindex(index)
        out[fname] = pd.Series(pd.to_numeric(s, errors="coerce"), index=index, dtype="float64", name=fname)
    return out


def _all_values(entry: Entry, values: Mapping[str, Number]) -> dict[str, Number]:
    """Every parameter of ``entry``: the given ones and the (derived) defaults of the rest."""
    out = dict(values)
    for p in entry.info.params:
        if out.get(p.name) is None:
            v = entry.default(p.name, out)
            if v is not None:
                out[p.name] = v
    return out


def _run_twin(
    fn: indicator_talib.TwinFn,
    entry: Entry,
    label: str,
    kwargs: Mapping[str, Any],
    values: Mapping[str, Number],
) -> dict[str, pd.Series]:
    """TA-Lib's version ``fn`` on the series pandas-ta would have been given (``kwargs``)."""
    inf = entry.info
    index = kwargs[_PANDAS_TA_NAME.get(inf.inputs[0], inf.inputs[0])].index
    windows = [int(v) for p in inf.params if p.kind is int and (v := values.get(p.name)) is not None]
    if windows and len(index) < max(windows):
        raise Invalid(f"{label} needs more bars than the {len(index)} available")
    arrays = {col: kwargs[_PANDAS_TA_NAME.get(col, col)].to_numpy(dtype="float64") for col in inf.inputs}
    t = indicator_talib.talib()
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(t, arrays, values)
    except Exception as e:  # TA-Lib raises its own error types on bad input
        raise Invalid(f"{label} could not be computed on this data ({type(e).__name__})") from e
    return {f: pd.Series(np.asarray(out[f], dtype="float64"), index=index, name=f) for f in inf.fields}


_NUMERIC_TOKEN = re.compile(r"^-?\d+(\.\d+)?%?$")


def derive_fields(name: str, columns: Sequence[str]) -> tuple[str, ...]:
    """Short names from pandas-ta column names: drop parameter suffixes, lower-case, drop the shared prefix.

    ``MACD_12_26_9, MACDh_12_26_9, MACDs_12_26_9`` -> ``macd, h, s``; a single column is ``name``.
    Used where ``FIELD_ALIASES`` has no entry (or pandas-ta changed its column count).
    """
    if len(columns) == 1:
        return (name,)
    bases = ["_".join(t for t in str(c).split("_") if not _NUMERIC_TOKEN.match(t)).lower() for c in columns]
    prefix = _common_prefix(bases)
    short = [(b[len(prefix) :].lstrip("_") or name) if prefix else b for b in bases]
    seen: dict[str, int] = {}
    out = []
    for s in short:
        s = re.sub(r"[^a-z0-9_]", "_", s) or name
        if s in seen:
            seen[s] += 1
            s = f"{s}_{seen[s]}"
        else:
            seen[s] = 0
        out.append(s)
    return tuple(out)


def _common_prefix(words: Sequence[str]) -> str:
    if not words:
        return ""
    lo, hi = min(words), max(words)
    i = 0
    while i < len(lo) and i < len(hi) and lo[i] == hi[i]:
        i += 1
    return lo[:i]
