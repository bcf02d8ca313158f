"""Technical indicators by pandas-ta name, as users type them in chat (``rsi:21``, ``bbands:20:2``).

One table of every usable indicator (the *catalogue*) is built once by introspecting pandas-ta:
its ``Category`` map gives the names, each function's signature gives the input series and the
parameter names, and its source gives the defaults (pandas-ta declares every parameter ``= None``
and fills the real default inside the function, so the signature alone is useless for that).
The chat command, the chart and the script language all go through this module, so the same
name, parameters and short field names (``macd.signal``, ``bbands.upper``) mean the same thing
everywhere.

pandas-ta (and with it numba and TA-Lib) is imported lazily: a ``/market BBCA 1d`` without
indicators must not pay its import.

Things pandas-ta gets wrong or does silently, and what this module does about them:

- Parameters of the wrong type or out of range are silently replaced by defaults; we validate
  first (lengths whole numbers 1..5000, multipliers positive) and say what is wrong.
- ``bbands`` uses sample std where TA-Lib uses population std: ours is TA-Lib's (``ddof=0``).
- ``supertrend(h, l, c, 7, 3.0)`` would set ``atr_length=3``: we always call with keywords and order
  the user-facing parameters as people write them (``supertrend:7:3`` is length 7, multiplier 3).
- Indicators TA-Lib also computes (``_TWINS``: rsi, macd, adx, stoch, bbands, atr, ...) are computed
  by TA-Lib: they start on TA-Lib's first valid bar and equal its values from there. pandas-ta's own
  paths publish RSI/MACD/ATR/STOCH a few bars early, publish ADX from bar ``length`` (converging to
  TA-Lib's only after ~130 bars) with a non-standard ADXR, and its TA-Lib path returns directional
  *movement* in ADX's DMP/DMN. Where our values differ from TA-Lib's on purpose (supertrend, dpo,
  ...), ``CONVENTIONS`` says how, and ``/dict indicator NAME`` shows it.
- Indicators that look at future bars (``tos_stdevall``, ``zigzag``, ``vhm``, ``dpo`` centred,
  ichimoku's chikou span, ``smc``'s back-fill) would make backtests lie: they are left out or made
  causal. A test recomputes every indicator on a prefix of the data to prove the rest are causal.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from core.errors import Invalid, NotFound

MAX_LENGTH = 5000
"""Longest window a user may ask for (SCRIPT.md: indicator lengths 1..5,000)."""

MAX_FLOAT = 1e9

Number = int | float

# pandas-ta parameter name -> frame column
_SERIES_PARAMS: dict[str, str] = {
    "open_": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
}

# Parameters never offered to users: shifts that would look ahead, implementation switches,
# mathematical constants and warm-up padding.
_HIDDEN_PARAMS = frozenset(
    {"offset", "talib", "drift", "pi", "sqrt2", "sqrt3", "prenan", "ddof", "kwargs", "lookahead"}
)

# Left out of the catalogue, with the reason (kept for /dict and for the test that proves it).
EXCLUDED: dict[str, str] = {
    "cdl_pattern": "returns one column per candlestick pattern",
    "long_run": "needs two indicator series as input",
    "short_run": "needs two indicator series as input",
    "tos_stdevall": "fits the whole series at once, so past values use future bars",
    "zigzag": "repaints: a pivot is only confirmed by later bars",
    "smc": "back-fills its warm-up with later values",
    "vhm": "divides by the standard deviation of the whole series, future bars included",
    "vp": "returns a volume profile, not a time series",
}

# Extra keyword arguments always passed: causality, agreement with TA-Lib, known bugs.
_FORCED_KWARGS: dict[str, dict[str, Any]] = {
    "bbands": {"ddof": 0},
    "dpo": {"centered": False},
    "ichimoku": {"include_chikou": False},
}

# pandas-ta parameters not offered because the TA-Lib twin (see ``_TWINS``) has no such knob:
# TA-Lib's ADX smooths DX over the same length and its ADXR looks back length - 1 bars.
_NOT_OFFERED: dict[str, frozenset[str]] = {"adx": frozenset({"signal_length", "adxr_length"})}

# User-facing parameter order where pandas-ta's order is not how people write it.
_PARAM_ORDER: dict[str, tuple[str, ...]] = {
    "supertrend": ("length", "multiplier", "atr_length"),
    "psar": ("af", "max_af", "af0"),
}

# One user parameter standing for several pandas-ta ones (Bollinger's "k", Donchian's period).
_EXPAND: dict[str, dict[str, tuple[str, ...]]] = {
    "bbands": {"std": ("lower_std", "upper_std")},
    "donchian": {"length": ("lower_length", "upper_length")},
}

# Defaults pandas-ta gets from elsewhere or where its default is not what traders expect.
_DEFAULT_OVERRIDES: dict[tuple[str, str], Number] = {
    ("bbands", "length"): 20,  # pandas-ta and TA-Lib say 5; Bollinger bands are 20, 2 everywhere
    ("alma", "dist_offset"): 0.85,
    ("psar", "af"): 0.02,
}

# A parameter whose default is another parameter's value (``atr_length`` defaults to ``length``).
_DERIVED_OVERRIDES: dict[tuple[str, str], str] = {("psar", "af0"): "af"}

# Parameters that look like whole numbers in pandas-ta but are scales or levels, not windows.
_FLOAT_PARAMS = frozenset({"divisor", "initial", "threshold", "multiplier", "scalar", "c", "long", "short"})
_INT_LIKE_FLOAT = frozenset({("cksp", "q")})  # pandas-ta only accepts it as a float, then int()s it

# Parameters with a bounded domain: (low, high, low inclusive).
_BOUNDS: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("alma", "dist_offset"): (0.0, 1.0, True),
    ("quantile", "q"): (0.0, 1.0, False),
    ("mcgd", "c"): (0.0, 1.0, False),
    ("hwma", "na"): (0.0, 1.0, False),
    ("hwma", "nb"): (0.0, 1.0, False),
    ("hwma", "nc"): (0.0, 1.0, False),
    ("hwc", "na"): (0.0, 1.0, False),
    ("hwc", "nb"): (0.0, 1.0, False),
    ("hwc", "nc"): (0.0, 1.0, False),
    ("hwc", "nd"): (0.0, 1.0, False),
    ("mama", "fastlimit"): (0.0, 1.0, False),
    ("mama", "slowlimit"): (0.0, 1.0, False),
    ("stc", "factor"): (0.0, 1.0, False),
    ("jma", "phase"): (-100.0, 100.0, True),
}

# Short field names for multi-output indicators, in pandas-ta's column order; the first is primary.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "aberration": ("mid", "upper", "lower", "atr"),
    "accbands": ("lower", "mid", "upper"),
    "adx": ("adx", "adxr", "dmp", "dmn"),
    "alligator": ("jaw", "teeth", "lips"),
    "alphatrend": ("alphatrend", "lag"),
    "amat": ("long", "short"),
    "aobv": ("obv", "min", "max", "fast", "slow", "long", "short"),
    "aroon": ("down", "up", "osc"),
    "bbands": ("lower", "mid", "upper", "bandwidth", "percent"),
    "brar": ("ar", "br"),
    "cdl_z": ("open", "high", "low", "close"),
    "chandelier_exit": ("long", "short", "direction"),
    "cksp": ("long", "short"),
    "donchian": ("lower", "mid", "upper"),
    "eri": ("bull", "bear"),
    "exhc": ("down", "up"),
    "fisher": ("fisher", "signal"),
    "ha": ("open", "high", "low", "close"),
    "hilo": ("hilo", "long", "short"),
    "hwc": ("mid", "lower", "upper", "width", "percent"),
    "ichimoku": ("span_a", "span_b", "tenkan", "kijun"),
    "kc": ("lower", "basis", "upper"),
    "kdj": ("k", "d", "j"),
    "kst": ("kst", "signal"),
    "kvo": ("kvo", "signal"),
    "macd": ("macd", "hist", "signal"),
    "mama": ("mama", "fama"),
    "pivots": ("pivot", "s1", "s2", "s3", "s4", "r1", "r2", "r3", "r4"),
    "ppo": ("ppo", "hist", "signal"),
    "psar": ("long", "short", "af", "reversal"),
    "pvi": ("pvi", "ma"),
    "pvo": ("pvo", "hist", "signal"),
    "qqe": ("qqe", "rsima", "long", "short"),
    "rvgi": ("rvgi", "signal"),
    "rwi": ("high", "low"),
    "smi": ("smi", "signal", "osc"),
    "squeeze": ("sqz", "on", "off", "no"),
    "squeeze_pro": ("sqz", "on_wide", "on_normal", "on_narrow", "off", "no"),
    "stc": ("stc", "macd", "stoch"),
    "stoch": ("k", "d", "hist"),
    "stochf": ("k", "d"),
    "stochrsi": ("k", "d"),
    "supertrend": ("trend", "direction", "long", "short"),
    "thermo": ("thermo", "ma", "long", "short"),
    "tmo": ("tmo", "signal", "mom", "mom_signal"),
    "trix": ("trix", "signal"),
    "tsi": ("tsi", "signal"),
    "tsv": ("tsv", "signal", "ratio"),
    "vortex": ("plus", "minus"),
}

# Drawn on the price panel besides pandas-ta's "overlap" category.
_PRICE_PANEL = frozenset(
    {
        "aberration", "accbands", "alphatrend", "atrts", "bbands", "chandelier_exit", "cksp",
        "donchian", "ha", "ht_trendline", "hwc", "kc", "psar", "vwap", "vwma",
    }
)  # fmt: skip

# How many leading parameters the canonical text and the label always show.
_HEADLINE: dict[str, int] = {
    "macd": 3, "ppo": 3, "pvo": 3, "stoch": 3, "stochf": 2, "bbands": 2, "kc": 2,
    "supertrend": 2, "ichimoku": 3, "psar": 2, "alligator": 3, "kdj": 2, "tsi": 3,
    "aroon": 1, "squeeze": 2,
}  # fmt: skip

# Names people type for the common ones.
NAME_ALIASES: dict[str, str] = {
    "bb": "bbands",
    "boll": "bbands",
    "bollinger": "bbands",
    "ma": "sma",
    "stochastic": "stoch",
    "keltner": "kc",
    "dc": "donchian",
    "sar": "psar",
    "parabolic": "psar",
    "wr": "willr",
    "williams": "willr",
    "st": "supertrend",
    "ichi": "ichimoku",
}


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class Param:
    """One user-settable parameter. ``default`` None means "derived" or "off" (see the description)."""

    name: str
    default: float | int | str | None
    kind: type  # int (a window, 1..5000) or float (a scale, > 0 unless bounded otherwise)


@dataclass(frozen=True)
class IndicatorInfo:
    """What an indicator needs and returns, for parsing, validation, charts and ``/dict``."""

    name: str
    category: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    fields: tuple[str, ...]
    overlay: bool
    description: str
    talib: bool = False  # computed by TA-Lib: starts on its first valid bar and equals it from there
    note: str = ""  # how the values differ from TA-Lib's or pandas-ta's, on purpose (``CONVENTIONS``)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def usage(self) -> str:
        """``macd:fast:slow:signal`` style, to show under an error."""
        return ":".join([self.name, *(p.name for p in self.params)])


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
        if not self.fields:
            return {}
        frame = pd.DataFrame(self.fields)
        rows = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
        if not len(rows):
            return dict.fromkeys(self.fields)
        row = frame.iloc[rows[-1]]
        return {name: (None if pd.isna(row[name]) else float(row[name])) for name in self.fields}

    def tail(self, n: int) -> IndicatorResult:
        """The same result restricted to the last ``n`` bars (charts draw a window of the series)."""
        return IndicatorResult(self.spec, self.info, {k: v.iloc[-n:] for k, v in self.fields.items()})


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Entry:
    """Catalogue row plus what only this module needs to call pandas-ta."""

    info: IndicatorInfo
    optional_inputs: tuple[str, ...]  # series the function also accepts (psar's close)
    derived: dict[str, str]  # param -> the param its default copies
    bounds: dict[str, tuple[float, float, bool]]
    accepts_talib: bool
    headline: int


def catalogue() -> dict[str, IndicatorInfo]:
    """Every pandas-ta indicator usable on OHLCV bars, by name (cached; imports pandas-ta)."""
    return {name: e.info for name, e in _entries().items()}


def info(name: str) -> IndicatorInfo:
    """The catalogue entry for ``name`` (aliases like ``bb`` accepted); ``NotFound`` suggests the nearest."""
    return _entry(name, NotFound).info


def _entry(name: str, error: type[Exception]) -> _Entry:
    entries = _entries()
    key = name.strip().lower()
    key = NAME_ALIASES.get(key, key)
    if key in entries:
        return entries[key]
    if key in EXCLUDED:
        raise error(f"indicator '{name}' is not available: {EXCLUDED[key]}")
    raise error(f"unknown indicator '{name}'" + _suggest(key, [*entries, *NAME_ALIASES]))


def _suggest(word: str, choices: Iterable[str]) -> str:
    from core.labels import did_you_mean

    return did_you_mean(word, choices, case_sensitive=True, rename=lambda near: NAME_ALIASES.get(near, near))


@cache
def _ta() -> Any:
    """Import pandas-ta on first use and silence its pandas deprecation chatter (not ours to fix)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pandas_ta(\..*)?$")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandas_ta(\..*)?$")
    import pandas_ta

    return pandas_ta


@cache
def _entries() -> dict[str, _Entry]:
    ta = _ta()
    from pandas_ta.maps import Category

    out: dict[str, _Entry] = {}
    for category, names in Category.items():
        for name in names:
            fn = getattr(ta, name, None)
            if fn is None or name in EXCLUDED:
                continue
            entry = _build_entry(name, category, fn)
            if entry is not None:
                out[name] = entry
    return dict(sorted(out.items()))


def _build_entry(name: str, category: str, fn: Callable[..., Any]) -> _Entry | None:
    sig = inspect.signature(fn)
    required, optional = [], []
    for p in sig.parameters.values():
        if p.name in _SERIES_PARAMS:
            (required if p.default is inspect.Parameter.empty else optional).append(_SERIES_PARAMS[p.name])
        elif p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD:
            return None  # needs something we cannot give (a second indicator series)
    if not required:
        return None

    ast_info = _ast_defaults(fn)
    doc_info = _doc_params(inspect.getdoc(fn) or "")
    params: list[Param] = []
    derived: dict[str, str] = {}
    names_in_sig = [p for p in sig.parameters if p not in _SERIES_PARAMS]
    for pname in names_in_sig:
        hidden = _HIDDEN_PARAMS | _FORCED_KWARGS.get(name, {}).keys() | _NOT_OFFERED.get(name, frozenset())
        if pname in hidden:
            continue
        resolved = _resolve_param(name, pname, ast_info.get(pname), doc_info.get(pname), names_in_sig)
        if resolved is None:
            continue
        param, source = resolved
        params.append(param)
        if source:
            derived[pname] = source

    for virtual, targets in _EXPAND.get(name, {}).items():
        first = next((i for i, p in enumerate(params) if p.name in targets), None)
        if first is None:
            continue
        template = params[first]
        default = _DEFAULT_OVERRIDES.get((name, virtual), template.default)
        params = [p for p in params if p.name not in targets]
        params.insert(first, Param(virtual, default, template.kind))

    order = _PARAM_ORDER.get(name)
    if order:
        params.sort(key=lambda p: order.index(p.name) if p.name in order else len(order))

    fields = FIELD_ALIASES.get(name, (name,))
    doc = inspect.getdoc(fn) or name
    description = doc.strip().splitlines()[0].strip().rstrip(".")
    info_ = IndicatorInfo(
        name=name,
        category=category,
        inputs=tuple(required),
        params=tuple(params),
        fields=fields,
        overlay=category == "overlap" or name in _PRICE_PANEL,
        description=description,
        talib=name in _TWINS,
        note=CONVENTIONS.get(name, ""),
    )
    bounds = {p: b for (ind, p), b in _BOUNDS.items() if ind == name}
    return _Entry(
        info=info_,
        optional_inputs=tuple(optional),
        derived=derived,
        bounds=bounds,
        accepts_talib="talib" in sig.parameters,
        headline=min(_HEADLINE.get(name, 1), len(params)),
    )


_VALIDATOR_KINDS: dict[str, type | None] = {
    "v_pos_default": None,  # type of the default
    "v_lowerbound": None,
    "v_scalar": float,
    "v_float": float,
    "v_int": int,
    "v_bool": bool,
    "v_ascending": bool,
    "v_str": str,
    "v_mamode": str,
    "v_list": list,
}


def _ast_defaults(fn: Callable[..., Any]) -> dict[str, tuple[type | None, Any]]:
    """``{param: (kind, default)}`` read from ``param = v_pos_default(param, 14)`` style lines.

    pandas-ta's signatures say ``None`` for every parameter; the real defaults live in these
    validation lines (its docstrings disagree with the code in places, e.g. ``trix``, ``mom``).
    A default that is another name is returned as that name (a derived default).
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return {}
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef):
        return {}
    params = {a.arg for a in func.args.args}
    out: dict[str, tuple[type | None, Any]] = {}
    for node in ast.walk(func):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name) or target.id not in params or target.id in out:
            continue
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            vname = value.func.id
            if vname not in _VALIDATOR_KINDS or not value.args:
                continue
            first = value.args[0]
            if not (isinstance(first, ast.Name) and first.id == target.id):
                continue
            index = 2 if vname == "v_lowerbound" else 1
            node_default = value.args[index] if len(value.args) > index else None
            for kw in value.keywords:
                if kw.arg == "default":
                    node_default = kw.value
            default = _literal(node_default)
            kind = _VALIDATOR_KINDS[vname] or (type(default) if isinstance(default, int | float) else None)
            if isinstance(default, bool):
                kind = bool
            out[target.id] = (kind, default)
        elif isinstance(value, ast.IfExp):
            body = value.body
            kind = None
            if (
                isinstance(body, ast.Call)
                and isinstance(body.func, ast.Name)
                and body.func.id in ("int", "float")
            ):
                kind = int if body.func.id == "int" else float
            orelse = value.orelse
            while isinstance(orelse, ast.IfExp):
                orelse = orelse.body
            default = _literal(orelse)
            if isinstance(default, int | float) and not isinstance(default, bool):
                out[target.id] = (kind or type(default), default)
    return out


def _literal(node: ast.AST | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        if isinstance(node, ast.Name):
            return _NameRef(node.id)
        return None


@dataclass(frozen=True)
class _NameRef:
    """A default that is the value of another variable (``atr_length`` defaults to ``length``)."""

    name: str


_DOC_PARAM = re.compile(r"^\s+(\w+) \(([^)]*)\):(.*?)(?=^\s+\w+ \([^)]*\):|^\s*$|\Z)", re.M | re.S)
_DOC_DEFAULT = re.compile(r"Default:\s*```(.*?)```", re.S)


def _doc_params(doc: str) -> dict[str, tuple[str, Any]]:
    """``{param: (type text, default)}`` from the "Parameters:" section of a pandas-ta docstring."""
    if "Parameters:" not in doc:
        return {}
    section = doc.split("Parameters:", 1)[1].split("Other Parameters:")[0].split("Returns:")[0]
    out: dict[str, tuple[str, Any]] = {}
    for m in _DOC_PARAM.finditer(section):
        pname, typ, body = m.groups()
        d = _DOC_DEFAULT.search(body)
        default: Any = None
        if d:
            text = d.group(1).strip().replace("_", "")
            try:
                default = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                default = _NameRef(text) if text.isidentifier() else None
        out[pname] = (typ.strip(), default)
    return out


def _resolve_param(
    indicator: str,
    pname: str,
    from_ast: tuple[type | None, Any] | None,
    from_doc: tuple[str, Any] | None,
    siblings: list[str],
) -> tuple[Param, str | None] | None:
    """Merge what the code and the docstring say into one numeric ``Param`` (None: not numeric)."""
    ast_kind, ast_default = from_ast if from_ast else (None, None)
    doc_type, doc_default = from_doc if from_doc else ("", None)
    if ast_kind in (bool, str, list) or doc_type in ("bool", "str", "list", "Series", "value"):
        return None
    doc_kind = {"int": int, "float": float, "IntFloat": float}.get(doc_type)
    kind: type | None = doc_kind or ast_kind
    if ast_kind is not None and doc_kind is not None and ast_kind is not doc_kind:
        kind = float if float in (ast_kind, doc_kind) else int
    if pname in _FLOAT_PARAMS:
        kind = float
    if (indicator, pname) in _INT_LIKE_FLOAT:
        kind = int

    default: Any = ast_default if ast_default is not None else doc_default
    source = _DERIVED_OVERRIDES.get((indicator, pname))
    if isinstance(default, _NameRef):
        if default.name in siblings and default.name != pname:
            source = source or default.name
        default = doc_default if isinstance(doc_default, int | float) else None
    if source:
        default = None
    if (indicator, pname) in _DEFAULT_OVERRIDES:
        default = _DEFAULT_OVERRIDES[(indicator, pname)]
    if isinstance(default, bool) or not (default is None or isinstance(default, int | float)):
        return None
    if kind is None:
        if default is None:
            return None
        kind = type(default)
    if kind not in (int, float):
        return None
    if default is not None:
        default = int(default) if kind is int and float(default).is_integer() else float(default)
    return Param(pname, default, kind), source


# --------------------------------------------------------------------------- parsing & validation

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
    entry = _entry(m.group(1), Invalid)
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
    return _make_spec(entry, positional, named)


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


def _make_spec(entry: _Entry, positional: Sequence[Number], named: Mapping[str, Number]) -> IndicatorSpec:
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
    for k, v in named.items():
        if k in given:
            raise Invalid(f"{inf.name}: parameter '{k}' given twice", hint=f"usage: {inf.usage}")
        given[k] = v
    values = _validate(entry, given)

    last_given = max((i for i, p in enumerate(params) if p.name in given), default=-1)
    count = max(entry.headline, last_given + 1)
    args: list[Number] = []
    for p in params[:count]:
        v = values.get(p.name)
        if v is None:
            v = _effective_default(entry, p.name, values)
        if v is None:
            if p.name in given or any(q.name in given for q in params[params.index(p) + 1 :]):
                raise Invalid(
                    f"{inf.name}: give '{p.name}' too when setting a later parameter",
                    hint=f"usage: {inf.usage}",
                )
            break
        args.append(v)
    # trailing parameters equal to their defaults add nothing to the canonical text
    while len(args) > entry.headline and args[-1] == _effective_default(
        entry, params[len(args) - 1].name, dict(zip((p.name for p in params), args, strict=False))
    ):
        args.pop()
    text = ":".join([inf.name, *(_fmt(a) for a in args)])
    return IndicatorSpec(inf.name, tuple(args), text)


def _effective_default(entry: _Entry, pname: str, values: Mapping[str, Number | None]) -> Number | None:
    p = entry.info.param(pname)
    if p.default is not None:
        return p.default  # type: ignore[return-value]
    source = entry.derived.get(pname)
    if source is None:
        return None
    v = values.get(source)
    if v is None:
        v = _effective_default(entry, source, values)
    return v


def _validate(entry: _Entry, given: Mapping[str, Any]) -> dict[str, Number]:
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


# --------------------------------------------------------------------------- computing


def compute(frame: pd.DataFrame, spec: IndicatorSpec | str, *, talib: bool | None = None) -> IndicatorResult:
    """Compute one indicator on an OHLCV frame (lower-case columns); fields share the frame's index.

    ``talib`` forces pandas-ta's TA-Lib path on or off for indicators computed by pandas-ta; None
    uses TA-Lib when installed, as pandas-ta does. Indicators TA-Lib also computes (``_TWINS``)
    always come from TA-Lib.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    entry = _entry(spec.name, Invalid)
    inf = entry.info
    missing = [c for c in inf.inputs if c not in frame.columns]
    if missing:
        raise Invalid(f"{spec.label} needs {', '.join(missing)} data, which this series lacks")
    if len(spec.args) > len(inf.params):
        raise Invalid(f"{spec.label}: too many parameters", hint=f"usage: {inf.usage}")
    series = [frame[c] for c in inf.inputs]
    values = dict(zip((p.name for p in inf.params), spec.args, strict=False))
    fields = _run(entry, spec.label, series, {}, _validate(entry, values), talib)
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
    entry = _entry(name, Invalid)
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
    values = _validate(entry, given)
    lengths = {len(s) for s in series.values()}
    if len(lengths) > 1:
        raise Invalid(f"{inf.name}: input series have different lengths")
    ordered = [series[s] for s in inf.inputs]
    extra = {s: series[s] for s in entry.optional_inputs if s in series}
    spec = _make_spec(entry, [], values)
    fields = _run(entry, spec.label, ordered, extra, values, None)
    if len(fields) == 1:
        return next(iter(fields.values()))
    return fields


def _run(
    entry: _Entry,
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
        kwargs["open_" if col == "open" else col] = pd.Series(
            pd.to_numeric(s, errors="coerce"), index=s.index, dtype="float64"
        )
    expand = _EXPAND.get(inf.name, {})
    for pname, v in values.items():
        if pname in expand:
            for target in expand[pname]:
                kwargs[target] = v
        else:
            kwargs[pname] = float(v) if (inf.name, pname) in _INT_LIKE_FLOAT else v
    twin = _twin(entry, _all_values(entry, values))
    if twin is not None:
        return _run_twin(twin, entry, label, kwargs, _all_values(entry, values))
    forced = _FORCED_KWARGS.get(inf.name, {})
    if talib is not None and entry.accepts_talib and "talib" not in forced:
        kwargs["talib"] = talib
    kwargs.update(forced)

    try:
        result: Any = getattr(_ta(), inf.name)(**kwargs)
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


# --------------------------------------------------------------------------- TA-Lib twins

# Indicators TA-Lib also computes are computed *by* TA-Lib: they start on TA-Lib's first valid bar
# (NaN before it) and equal its values from there. Each entry maps our inputs and parameters onto
# TA-Lib's function(s) and its outputs onto our field names. ``v`` holds every parameter, defaults
# filled in. pandas-ta's own paths start some of these a few bars early (RSI, MACD, ATR, STOCH) or
# converge only after ~130 bars (ADX), and its TA-Lib path returns directional movement for ADX's
# DMP/DMN: none of that reaches users.
_Arrays = Mapping[str, np.ndarray]
_Values = Mapping[str, Number]


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


_TwinFn = Callable[[Any, _Arrays, _Values], dict[str, np.ndarray]]

_TWINS: dict[str, _TwinFn] = {
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
_TWIN_ONLY_WITH: dict[str, dict[str, Number]] = {
    "kama": {"fast": 2, "slow": 30},
    "uo": {"fast_w": 4.0, "medium_w": 2.0, "slow_w": 1.0},
    "nvi": {"length": 1},
}

# Where the value shown deliberately is not TA-Lib's (or TA-Lib has no such line), said in
# ``/dict indicator NAME``. One place for each difference.
CONVENTIONS: dict[str, str] = {
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


def _twin(entry: _Entry, values: Mapping[str, Number]) -> _TwinFn | None:
    fn = _TWINS.get(entry.info.name)
    if fn is None:
        return None
    fixed = _TWIN_ONLY_WITH.get(entry.info.name, {})
    if any(float(values[k]) != float(x) for k, x in fixed.items()):
        return None
    return fn


def _all_values(entry: _Entry, values: Mapping[str, Number]) -> dict[str, Number]:
    """Every parameter of ``entry``: the given ones and the (derived) defaults of the rest."""
    out = dict(values)
    for p in entry.info.params:
        if out.get(p.name) is None:
            v = _effective_default(entry, p.name, out)
            if v is not None:
                out[p.name] = v
    return out


@cache
def _talib() -> Any:
    import talib

    return talib


def _run_twin(
    fn: _TwinFn,
    entry: _Entry,
    label: str,
    kwargs: Mapping[str, Any],
    values: Mapping[str, Number],
) -> dict[str, pd.Series]:
    inf = entry.info
    index = kwargs[_PANDAS_TA_NAME.get(inf.inputs[0], inf.inputs[0])].index
    windows = [int(v) for p in inf.params if p.kind is int and (v := values.get(p.name)) is not None]
    if windows and len(index) < max(windows):
        raise Invalid(f"{label} needs more bars than the {len(index)} available")
    arrays = {col: kwargs[_PANDAS_TA_NAME.get(col, col)].to_numpy(dtype="float64") for col in inf.inputs}
    t = _talib()
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = fn(t, arrays, values)
    except Exception as e:  # TA-Lib raises its own error types on bad input
        raise Invalid(f"{label} could not be computed on this data ({type(e).__name__})") from e
    return {f: pd.Series(np.asarray(out[f], dtype="float64"), index=index, name=f) for f in inf.fields}


_PANDAS_TA_NAME = {"open": "open_"}


_NEEDS_TIME_INDEX = frozenset({"pivots", "vwap"})  # anchored to calendar periods

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
