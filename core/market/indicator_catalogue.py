"""The catalogue: every usable pandas-ta indicator, what it takes, returns and how a chart draws it.

The table is built once by introspecting pandas-ta: its ``Category`` map gives the names, each
function's signature gives the input series and the parameter names, and its source gives the
defaults (pandas-ta declares every parameter ``= None`` and fills the real default inside the
function, so the signature alone is useless for that). The chat command, the chart and the script
language all read this one table, so the same name, parameters and short field names
(``macd.signal``, ``bbands.upper``) mean the same thing everywhere. Each entry also carries its
``Drawing`` (price panel or a panel of its own, guide lines, a histogram), so charts keep no table
of their own. Parsing ``rsi:21`` is ``core.market.indicator_specs``; computing is
``core.market.indicator_compute``.

pandas-ta (and with it numba and TA-Lib) is imported lazily: a ``/market BBCA 1d`` without
indicators must not pay its import.

What the catalogue does about things pandas-ta gets wrong or does silently:

- ``bbands`` uses sample std where TA-Lib uses population std: ours is TA-Lib's (``ddof=0`` forced).
- ``supertrend(h, l, c, 7, 3.0)`` would set ``atr_length=3``: the user-facing parameters are ordered
  as people write them (``supertrend:7:3`` is length 7, multiplier 3), and pandas-ta is always
  called with keywords.
- Indicators that look at future bars (``tos_stdevall``, ``zigzag``, ``vhm``, ``dpo`` centred,
  ichimoku's chikou span, ``smc``'s back-fill) would make backtests lie: they are left out
  (``EXCLUDED``) or made causal (``_FORCED_KWARGS``). A test recomputes every indicator on a prefix
  of the data to prove the rest are causal.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from core.errors import Invalid, NotFound
from core.labels import did_you_mean
from core.market.indicator_talib import CONVENTIONS, talib_twin

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

# pandas-ta parameters not offered because the TA-Lib twin (``core.market.indicator_talib``) has no such knob:
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
class Drawing:
    """How a chart draws an indicator: on the price panel or in a panel of its own, and with what.

    ``style`` on the price panel: ``lines`` one line a field; ``band`` the first and last fields
    as edges filled between, the ones between dashed; ``stops`` long/short stop lines in the
    candle colours; ``dots`` the same stops as dots (parabolic SAR); ``ichimoku`` tenkan and kijun
    as lines, the senkou spans carried kijun - 1 bars past the last candle with the cloud filled between
    them, and the chikou span (the close drawn as far back) (``core.charts.ichimoku``).
    """

    overlay: bool  # on the price panel; otherwise in a panel of its own below volume
    fields: tuple[str, ...] = ()  # the fields drawn, in order; () draws all (in a panel, all but 0/1 flags)
    style: Literal["lines", "band", "stops", "dots", "ichimoku"] = "lines"
    histogram: str | None = None  # the panel's field drawn as bars (MACD's hist)
    guides: tuple[float, ...] = ()  # levels traders watch, drawn dashed across the panel (RSI 30/70)
    limits: tuple[float, float] | None = None  # a fixed range, drawn whole so 70 always sits at one height


@dataclass(frozen=True)
class IndicatorInfo:
    """What an indicator needs and returns, for parsing, validation, charts and ``/dict``."""

    name: str
    category: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    fields: tuple[str, ...]
    drawing: Drawing
    description: str
    talib: bool = False  # computed by TA-Lib: starts on its first valid bar and equals it from there
    note: str = ""  # how the values differ from TA-Lib's or pandas-ta's, on purpose (``CONVENTIONS``)

    @property
    def overlay(self) -> bool:
        """Drawn on the price panel rather than in a panel of its own."""
        return self.drawing.overlay

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
class Entry:
    """A catalogue row plus what parsing a spec and calling pandas-ta need, which users never see."""

    info: IndicatorInfo
    optional_inputs: tuple[str, ...]  # series the function also accepts (psar's close)
    derived: dict[str, str]  # param -> the param its default copies
    bounds: dict[str, tuple[float, float, bool]]
    headline: int  # leading parameters the canonical text and the label always show
    accepts_talib: bool  # pandas-ta's function takes a ``talib`` switch
    forced: dict[str, Any]  # keyword arguments always passed (``_FORCED_KWARGS``)
    expand: dict[str, tuple[str, ...]]  # a user parameter -> the pandas-ta parameters it sets (``_EXPAND``)
    passed_as_float: frozenset[str]  # whole-number parameters pandas-ta only accepts as floats

    def default(self, pname: str, values: Mapping[str, Number | None]) -> Number | None:
        """``pname``'s default, or the value of the parameter it copies (given in ``values`` or defaulted)."""
        p = self.info.param(pname)
        if p.default is not None:
            return p.default  # type: ignore[return-value]
        source = self.derived.get(pname)
        if source is None:
            return None
        v = values.get(source)
        if v is None:
            v = self.default(source, values)
        return v


# --------------------------------------------------------------------------- drawing

# How charts draw the indicators pandas-ta's category does not settle: the rest of the "overlap"
# category is lines on the price panel, everything else a panel of its own with a line a field.
_DRAWINGS: dict[str, Drawing] = {
    # bands: edges filled between, the middle dashed; bandwidth, percent and atr are not prices
    "bbands": Drawing(overlay=True, fields=("upper", "mid", "lower"), style="band"),
    "kc": Drawing(overlay=True, fields=("upper", "basis", "lower"), style="band"),
    "donchian": Drawing(overlay=True, fields=("upper", "mid", "lower"), style="band"),
    "accbands": Drawing(overlay=True, fields=("upper", "mid", "lower"), style="band"),
    "aberration": Drawing(overlay=True, fields=("upper", "mid", "lower"), style="band"),
    "hwc": Drawing(overlay=True, fields=("upper", "mid", "lower"), style="band"),
    # trailing stops: long while the trend is up, short while down; direction and af are not prices
    "supertrend": Drawing(overlay=True, fields=("long", "short"), style="stops"),
    "chandelier_exit": Drawing(overlay=True, fields=("long", "short"), style="stops"),
    "cksp": Drawing(overlay=True, fields=("long", "short"), style="stops"),
    "psar": Drawing(overlay=True, fields=("long", "short"), style="dots"),
    # other lines on the price panel
    "ichimoku": Drawing(overlay=True, fields=("tenkan", "kijun", "span_a", "span_b"), style="ichimoku"),
    "pivots": Drawing(overlay=True, fields=("r2", "r1", "pivot", "s1", "s2")),
    "ha": Drawing(overlay=True, fields=("close",)),
    "hilo": Drawing(overlay=True, fields=("hilo",)),
    "alphatrend": Drawing(overlay=True),
    "atrts": Drawing(overlay=True),
    "ht_trendline": Drawing(overlay=True),
    "vwap": Drawing(overlay=True),
    "vwma": Drawing(overlay=True),
    # oscillators: the guide lines traders expect, and the whole range where it is fixed
    "rsi": Drawing(overlay=False, guides=(30, 70), limits=(0, 100)),
    "rsx": Drawing(overlay=False, guides=(30, 70), limits=(0, 100)),
    "uo": Drawing(overlay=False, guides=(30, 70), limits=(0, 100)),
    "mfi": Drawing(overlay=False, guides=(20, 80), limits=(0, 100)),
    "stoch": Drawing(overlay=False, fields=("k", "d"), guides=(20, 80), limits=(0, 100)),
    "stochf": Drawing(overlay=False, guides=(20, 80), limits=(0, 100)),
    "stochrsi": Drawing(overlay=False, guides=(20, 80), limits=(0, 100)),
    "kdj": Drawing(overlay=False, guides=(20, 80)),
    "willr": Drawing(overlay=False, guides=(-80, -20), limits=(-100, 0)),
    "cci": Drawing(overlay=False, guides=(-100, 100)),
    "cmo": Drawing(overlay=False, guides=(-50, 50)),
    "adx": Drawing(overlay=False, fields=("adx", "dmp", "dmn"), guides=(25,)),
    "aroon": Drawing(overlay=False, fields=("up", "down")),
    # a histogram as bars under the lines
    "macd": Drawing(overlay=False, histogram="hist", guides=(0,)),
    "ppo": Drawing(overlay=False, histogram="hist", guides=(0,)),
    "pvo": Drawing(overlay=False, histogram="hist"),
    "squeeze": Drawing(overlay=False, fields=("sqz",), histogram="sqz"),
    "squeeze_pro": Drawing(overlay=False, fields=("sqz",), histogram="sqz"),
}


def _drawing(name: str, category: str) -> Drawing:
    """The table's hints, or the default: pandas-ta's "overlap" category belongs on the price panel."""
    return _DRAWINGS.get(name) or Drawing(overlay=category == "overlap")


# --------------------------------------------------------------------------- lookup


@cache
def catalogue() -> dict[str, IndicatorInfo]:
    """Every pandas-ta indicator usable on OHLCV bars, by name (cached; imports pandas-ta). One dict,
    built once (a script run looks an indicator up at every call): read it, never change it."""
    return {name: e.info for name, e in _entries().items()}


def info(name: str) -> IndicatorInfo:
    """The catalogue entry for ``name`` (aliases like ``bb`` accepted); ``NotFound`` suggests the nearest."""
    return find_entry(name, NotFound).info


def find_entry(name: str, error: type[Exception] = Invalid) -> Entry:
    """The entry for ``name`` (aliases accepted); ``error`` says why there is none, with the nearest name."""
    entries = _entries()
    key = name.strip().lower()
    key = NAME_ALIASES.get(key, key)
    if key in entries:
        return entries[key]
    if key in EXCLUDED:
        raise error(f"indicator '{name}' is not available: {EXCLUDED[key]}")
    raise error(f"unknown indicator '{name}'" + _suggest(key, [*entries, *NAME_ALIASES]))


def _suggest(word: str, choices: Iterable[str]) -> str:
    return did_you_mean(word, choices, case_sensitive=True, rename=lambda near: NAME_ALIASES.get(near, near))


@cache
def pandas_ta() -> Any:
    """Import pandas-ta on first use and silence its pandas deprecation chatter (not ours to fix)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pandas_ta(\..*)?$")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pandas_ta(\..*)?$")
    import pandas_ta

    return pandas_ta


# --------------------------------------------------------------------------- building the table


@cache
def _entries() -> dict[str, Entry]:
    ta = pandas_ta()
    from pandas_ta.maps import Category

    out: dict[str, Entry] = {}
    for category, names in Category.items():
        for name in names:
            fn = getattr(ta, name, None)
            if fn is None or name in EXCLUDED:
                continue
            entry = _build_entry(name, category, fn)
            if entry is not None:
                out[name] = entry
    return dict(sorted(out.items()))


def _build_entry(name: str, category: str, fn: Callable[..., Any]) -> Entry | None:
    sig = inspect.signature(fn)
    required: list[str] = []
    optional: list[str] = []
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
        drawing=_drawing(name, category),
        description=description,
        talib=talib_twin(name),
        note=CONVENTIONS.get(name, ""),
    )
    bounds = {p: b for (ind, p), b in _BOUNDS.items() if ind == name}
    return Entry(
        info=info_,
        optional_inputs=tuple(optional),
        derived=derived,
        bounds=bounds,
        headline=min(_HEADLINE.get(name, 1), len(params)),
        accepts_talib="talib" in sig.parameters,
        forced=_FORCED_KWARGS.get(name, {}),
        expand=_EXPAND.get(name, {}),
        passed_as_float=frozenset(p for ind, p in _INT_LIKE_FLOAT if ind == name),
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
