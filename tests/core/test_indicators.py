"""Indicators by pandas-ta name: catalogue, parsing, computing, and agreement with TA-Lib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import Invalid, NotFound
from core.market.indicator_catalogue import _DRAWINGS, CONVENTIONS, EXCLUDED, catalogue
from core.market.indicator_catalogue import info as indicator_info
from core.market.indicator_compute import IndicatorResult, call, compute, compute_many, derive_fields
from core.market.indicator_specs import parse_spec
from tests.sample_bars import sample_bars

ROOT = Path(__file__).resolve().parents[2]


def load_sample(name: str = "BBCA.csv") -> pd.DataFrame:
    ticker, _, interval = name.removesuffix(".csv").partition("_")
    return sample_bars(ticker, interval or "1d")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_sample()


@pytest.fixture(scope="module")
def every_result(bars: pd.DataFrame) -> dict[str, IndicatorResult]:
    return {name: compute(bars, name) for name in catalogue()}


def test_importing_the_modules_loads_no_heavy_library() -> None:
    code = (
        "import sys, core.market.indicator_compute, core.charts, core.charts.candles\n"
        "heavy = [m for m in ('pandas_ta', 'talib', 'numba', 'mplfinance', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


# --------------------------------------------------------------------------- catalogue


def test_catalogue_covers_the_usual_indicators_and_leaves_out_the_unsafe() -> None:
    cat = catalogue()
    assert len(cat) >= 120
    for name in ["rsi", "macd", "bbands", "ema", "sma", "stoch", "atr", "supertrend", "vwap", "obv", "adx"]:
        assert name in cat
    for name in ["cci", "mfi", "willr", "kc", "donchian", "aroon", "stochrsi", "ichimoku", "psar"]:
        assert name in cat
    for name in EXCLUDED:
        assert name not in cat


def test_catalogue_entries_are_well_formed() -> None:
    allowed_inputs = {"open", "high", "low", "close", "volume"}
    for name, info in catalogue().items():
        assert info.name == name
        assert info.inputs and set(info.inputs) <= allowed_inputs, name
        assert info.fields and len(set(info.fields)) == len(info.fields), name
        assert all(f == f.lower() and f.isidentifier() for f in info.fields), name
        assert info.description, name
        for p in info.params:
            assert p.kind in (int, float), (name, p)
            assert p.name not in {"offset", "talib", "ddof"}, (name, p)
            assert p.default is None or isinstance(p.default, p.kind), (name, p)


def test_documented_fields_and_params_of_the_common_indicators() -> None:
    cat = catalogue()
    assert cat["macd"].fields == ("macd", "hist", "signal")
    assert [p.name for p in cat["macd"].params] == ["fast", "slow", "signal"]
    assert cat["bbands"].fields == ("lower", "mid", "upper", "bandwidth", "percent")
    assert [(p.name, p.default) for p in cat["bbands"].params] == [("length", 20), ("std", 2.0)]
    assert cat["stoch"].fields[:2] == ("k", "d")
    assert cat["stochrsi"].fields == ("k", "d")
    assert cat["supertrend"].fields == ("trend", "direction", "long", "short")
    assert [p.name for p in cat["supertrend"].params][:2] == ["length", "multiplier"]
    assert cat["kc"].fields == ("lower", "basis", "upper")
    assert cat["donchian"].fields == ("lower", "mid", "upper")
    assert cat["adx"].fields[0] == "adx" and {"dmp", "dmn"} <= set(cat["adx"].fields)
    assert cat["aroon"].fields == ("down", "up", "osc")
    assert cat["rsi"].fields == ("rsi",) and cat["rsi"].param("length").default == 14
    assert cat["atr"].inputs == ("high", "low", "close")
    assert cat["mfi"].inputs == ("high", "low", "close", "volume")
    assert cat["ema"].overlay and cat["bbands"].overlay and cat["supertrend"].overlay and cat["vwap"].overlay
    assert not cat["rsi"].overlay and not cat["macd"].overlay and not cat["obv"].overlay


def test_drawing_hints_name_catalogued_indicators_and_their_fields() -> None:
    """Charts draw from the entry's hints alone, so a hint naming a missing field would draw nothing."""
    cat = catalogue()
    assert set(_DRAWINGS) <= set(cat)
    for name, info in cat.items():
        drawing = info.drawing
        assert set(drawing.fields) <= set(info.fields), name
        if drawing.overlay:  # price-panel styles only; guides, limits and bars belong to a panel of its own
            assert (drawing.histogram, drawing.guides, drawing.limits) == (None, (), None), name
        else:
            assert drawing.style == "lines", name
        if drawing.histogram:
            assert drawing.histogram in (drawing.fields or info.fields), name
        if drawing.limits:
            lo, hi = drawing.limits
            assert all(lo <= level <= hi for level in drawing.guides), name
    assert cat["rsi"].drawing.guides == (30, 70) and cat["rsi"].drawing.limits == (0, 100)
    assert cat["macd"].drawing.histogram == "hist" and cat["bbands"].drawing.style == "band"


def test_info_suggests_the_nearest_name() -> None:
    assert indicator_info("RSI").name == "rsi"
    assert indicator_info("bb").name == "bbands"
    with pytest.raises(NotFound, match="did you mean 'macd'"):
        indicator_info("macdd")
    with pytest.raises(NotFound, match="not available"):
        indicator_info("zigzag")


# --------------------------------------------------------------------------- every indicator


def test_every_catalogued_indicator_computes_on_sample_data(
    bars: pd.DataFrame, every_result: dict[str, IndicatorResult]
) -> None:
    for name, result in every_result.items():
        info = catalogue()[name]
        assert tuple(result.fields) == info.fields, name  # the alias table matches pandas-ta's columns
        for field, series in result.fields.items():
            assert series.index.equals(bars.index), (name, field)
            assert series.dtype == np.float64, (name, field)
            assert series.notna().sum() > 0, (name, field)
        assert result.primary is result.fields[info.fields[0]]


def test_no_indicator_looks_ahead(bars: pd.DataFrame, every_result: dict[str, IndicatorResult]) -> None:
    """A value on bar i must not change when later bars arrive: what a backtest sees is what was knowable."""
    cut = 600
    early = bars.iloc[:cut]
    for name, full in every_result.items():
        part = compute(early, name)
        for field, series in part.fields.items():
            np.testing.assert_allclose(
                series.to_numpy(),
                full.fields[field].iloc[:cut].to_numpy(),
                rtol=1e-9,
                atol=1e-9,
                err_msg=f"{name}.{field}",
            )


def test_too_few_bars_is_a_clear_error_never_a_crash(bars: pd.DataFrame) -> None:
    for n in (5, 30):
        for name in catalogue():
            try:
                result = compute(bars.iloc[:n], name)
            except Invalid as e:
                assert name.upper() in str(e)
                continue
            assert all(len(s) == n for s in result.fields.values()), name
    with pytest.raises(Invalid, match="needs more bars than the 10 available"):
        compute(bars.iloc[:10], "sma:50")


def test_derive_fields_strips_parameters_and_the_shared_prefix() -> None:
    assert derive_fields("macd", ["MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9"]) == ("macd", "h", "s")
    assert derive_fields("stoch", ["STOCHk_14_3_3", "STOCHd_14_3_3"]) == ("k", "d")
    assert derive_fields("rsi", ["RSI_14"]) == ("rsi",)
    assert derive_fields("bbands", ["BBL_5_2.0", "BBM_5_2.0", "BBU_5_2.0"]) == ("l", "m", "u")
    twins = derive_fields("aobv", ["OBV", "OBVe_4", "OBVe_12"])
    assert len(set(twins)) == 3  # names stay unique even when only parameters told columns apart


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "canonical", "label"),
    [
        ("rsi", "rsi:14", "RSI(14)"),
        ("rsi:21", "rsi:21", "RSI(21)"),
        ("RSI(21)", "rsi:21", "RSI(21)"),
        ("rsi:14:100", "rsi:14", "RSI(14)"),
        ("macd", "macd:12:26:9", "MACD(12,26,9)"),
        ("macd:12:26:9", "macd:12:26:9", "MACD(12,26,9)"),
        ("bbands:20:2", "bbands:20:2", "BBANDS(20,2)"),
        ("bb:20:2.5", "bbands:20:2.5", "BBANDS(20,2.5)"),
        ("ema:50", "ema:50", "EMA(50)"),
        ("sma:20", "sma:20", "SMA(20)"),
        ("stoch", "stoch:14:3:3", "STOCH(14,3,3)"),
        ("atr:14", "atr:14", "ATR(14)"),
        ("supertrend:7:3", "supertrend:7:3", "SUPERTREND(7,3)"),
        ("supertrend:10:multiplier=2", "supertrend:10:2", "SUPERTREND(10,2)"),
        ("vwap", "vwap", "VWAP"),
        ("obv", "obv", "OBV"),
        ("adx", "adx:14", "ADX(14)"),
        ("cci", "cci:14", "CCI(14)"),
        ("mfi", "mfi:14", "MFI(14)"),
        ("willr", "willr:14", "WILLR(14)"),
    ],
)
def test_parse_spec_accepts_what_people_type(text: str, canonical: str, label: str) -> None:
    spec = parse_spec(text)
    assert spec.text == canonical
    assert str(spec) == canonical
    assert spec.label == label
    assert parse_spec(canonical) == spec


def test_parse_spec_keeps_lengths_whole_and_multipliers_float() -> None:
    spec = parse_spec("bbands:20:2")
    assert spec.args == (20, 2.0)
    assert isinstance(spec.args[0], int) and isinstance(spec.args[1], float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rsii", "unknown indicator 'rsii' — did you mean 'rsi'?"),
        ("emaa:20", "did you mean 'ema'"),
        ("rsi:0", "between 1 and 5000"),
        ("rsi:5001", "between 1 and 5000"),
        ("rsi:2.5", "whole number"),
        ("rsi:abc", "must be numbers"),
        ("rsi:nan", "not a usable number"),
        ("rsi:14:100:1", "at most 2 parameters"),
        ("macd:12:26:9:1", "at most 3 parameters"),
        ("obv:3", "takes no parameters"),
        ("bbands:20:-1", "positive"),
        ("bbands:20:0", "positive"),
        ("supertrend:7:mult=2", "no parameter 'mult' — did you mean 'multiplier'?"),
        ("alma:9:6:1.5", "dist_offset"),
        ("zigzag", "not available"),
        ("", "not an indicator"),
    ],
)
def test_parse_spec_explains_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_spec(text)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- values


def test_result_last_skips_trailing_gaps(bars: pd.DataFrame) -> None:
    result = compute(bars, "macd")
    last = result.last()
    assert set(last) == {"macd", "hist", "signal"}
    assert last["hist"] == pytest.approx(last["macd"] - last["signal"])
    for series in result.fields.values():  # a gap in the data: no field has a value on the last bars
        series.iloc[-3:] = np.nan
    assert result.last() == {k: pytest.approx(float(v.iloc[-4])) for k, v in result.fields.items()}
    result.fields["macd"].iloc[-6:] = np.nan  # one field empty on the latest bar with values: not an older one
    assert result.last()["macd"] is None and result.last()["hist"] == pytest.approx(float(result.fields["hist"].iloc[-4]))
    assert not result.overlay and result.label == "MACD(12,26,9)"


def test_compute_many_computes_a_repeated_spec_once(bars: pd.DataFrame) -> None:
    results = compute_many(bars, ["rsi", "rsi:14", parse_spec("ema:20")])
    assert results[0] is results[1]
    assert [r.spec.text for r in results] == ["rsi:14", "rsi:14", "ema:20"]


def test_bbands_and_supertrend_follow_the_traps_in_facts(bars: pd.DataFrame) -> None:
    import pandas_ta as ta
    import talib

    bb = compute(bars, "bbands:20:2")
    upper, middle, lower = talib.BBANDS(bars["close"], 20, 2.0, 2.0)
    np.testing.assert_allclose(bb.fields["upper"].iloc[-50:], upper.iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(bb.fields["lower"].iloc[-50:], lower.iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(bb.fields["mid"].iloc[-50:], middle.iloc[-50:], rtol=1e-6)

    st = compute(bars, "supertrend:7:3")
    ref = ta.supertrend(bars["high"], bars["low"], bars["close"], length=7, multiplier=3.0)
    np.testing.assert_allclose(st.fields["trend"], ref.iloc[:, 0], rtol=1e-12)
    assert set(st.fields["direction"].dropna().unique()) <= {-1.0, 1.0}


@pytest.mark.parametrize("spec", ["rsi:14", "ema:20", "sma:20", "macd", "bbands:20:2", "atr:14"])
def test_talib_and_pandas_ta_paths_agree(bars: pd.DataFrame, spec: str) -> None:
    with_talib = compute(bars, spec, talib=True)
    without = compute(bars, spec, talib=False)
    for field in with_talib.fields:
        np.testing.assert_allclose(
            without.fields[field].iloc[-50:], with_talib.fields[field].iloc[-50:], rtol=1e-6, err_msg=field
        )


@pytest.mark.parametrize("use_talib", [True, False])
def test_cci_adx_and_wcp_match_talib_on_both_paths(bars: pd.DataFrame, use_talib: bool) -> None:
    """pandas-ta's own cci/wcp and its TA-Lib adx DMP/DMN are wrong; this module corrects them."""
    import talib

    h, low, c = bars["high"], bars["low"], bars["close"]
    cci = compute(bars, "cci:14", talib=use_talib).primary
    np.testing.assert_allclose(cci.iloc[-50:], talib.CCI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    adx = compute(bars, "adx:14", talib=use_talib).fields
    np.testing.assert_allclose(adx["adx"].iloc[-50:], talib.ADX(h, low, c, 14).iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(adx["dmp"].iloc[-50:], talib.PLUS_DI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(adx["dmn"].iloc[-50:], talib.MINUS_DI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    wcp = compute(bars, "wcp", talib=use_talib).primary
    np.testing.assert_allclose(wcp.iloc[-50:], talib.WCLPRICE(h, low, c).iloc[-50:], rtol=1e-9)


def test_vwap_on_intraday_bars() -> None:
    hourly = load_sample("BTCUSDT_1h.csv")
    vwap = compute(hourly, "vwap").primary
    assert vwap.notna().all()
    assert (vwap <= hourly["high"].cummax()).all()


# --------------------------------------------------------------------------- call (for the script language)


def test_call_returns_a_series_or_named_fields(bars: pd.DataFrame) -> None:
    c = bars["close"]
    rsi = call("rsi", c, 14)
    assert isinstance(rsi, pd.Series) and rsi.index.equals(c.index)
    pd.testing.assert_series_equal(rsi, compute(bars, "rsi:14").primary)
    pd.testing.assert_series_equal(call("rsi", c, length=14), rsi)
    pd.testing.assert_series_equal(call("rsi", close=c), rsi)

    macd = call("macd", c, 12, 26, signal=9)
    assert isinstance(macd, dict) and list(macd) == ["macd", "hist", "signal"]
    bb = call("bbands", c, 20, 2)
    assert isinstance(bb, dict) and (bb["upper"].dropna() >= bb["lower"].dropna()).all()
    st = call("supertrend", bars["high"], bars["low"], c, 7, 3)
    pd.testing.assert_series_equal(st["direction"], compute(bars, "supertrend:7:3").fields["direction"])
    atr = call("atr", bars["high"], bars["low"], c, 14.0)  # whole floats are fine for lengths
    assert isinstance(atr, pd.Series)
    # an indicator of an indicator, with its warm-up NaNs
    smoothed = call("ema", rsi, 9)
    assert isinstance(smoothed, pd.Series) and smoothed.notna().sum() > 600


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("emaa",), {}, "did you mean 'ema'"),
        (("atr", "close"), {}, "needs 3 series"),
        (("rsi", "close", 14, 100, 1), {}, "at most 2 numbers"),
        (("rsi", "close", 14.5), {}, "whole number"),
        (("rsi", "close"), {"length": 0}, "between 1 and 5000"),
        (("rsi", "close"), {"lenght": 14}, "did you mean 'length'"),
        (("rsi", "close", True), {}, "must be a number"),
        (("rsi", "close", "14"), {}, "must be a number"),
        (("rsi", "close"), {"offset": -5}, "no parameter 'offset'"),
        (("rsi", "close", "close"), {}, "takes 1 series"),
    ],
)
def test_call_errors_are_invalid_with_a_reason(
    bars: pd.DataFrame, args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    name, *rest = args
    real = [bars["close"] if isinstance(a, str) and a == "close" else a for a in rest]  # "14" stays a string
    with pytest.raises(Invalid) as caught:
        call(name, *real, **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)


# --------------------------------------------------------------------------- equal to TA-Lib (issue 10)


def random_bars(n: int = 600, seed: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.02, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.02, n))
    volume = rng.uniform(1e5, 1e6, n).round()
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="time")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def _talib_expected() -> dict[str, dict[str, object]]:
    """What TA-Lib itself says, written out by hand (not read from the module's table)."""
    import talib as t

    def hlc(f: pd.DataFrame) -> tuple[np.ndarray, ...]:
        return f["high"].to_numpy(), f["low"].to_numpy(), f["close"].to_numpy()

    def c(f: pd.DataFrame) -> np.ndarray:
        return f["close"].to_numpy()

    def v(f: pd.DataFrame) -> np.ndarray:
        return f["volume"].to_numpy()

    def stochrsi_k(f: pd.DataFrame) -> np.ndarray:
        return t.STOCHRSI(c(f), 14, 14, 3, 0)[1]

    return {
        "sma:20": {"sma": lambda f: t.SMA(c(f), 20)},
        "ema:50": {"ema": lambda f: t.EMA(c(f), 50)},
        "wma:10": {"wma": lambda f: t.WMA(c(f), 10)},
        "dema:10": {"dema": lambda f: t.DEMA(c(f), 10)},
        "tema:10": {"tema": lambda f: t.TEMA(c(f), 10)},
        "trima:10": {"trima": lambda f: t.TRIMA(c(f), 10)},
        "t3:10": {"t3": lambda f: t.T3(c(f), 10, 0.7)},
        "kama:10": {"kama": lambda f: t.KAMA(c(f), 10)},
        "mama": {"mama": lambda f: t.MAMA(c(f), 0.5, 0.05)[0], "fama": lambda f: t.MAMA(c(f), 0.5, 0.05)[1]},
        "ht_trendline": {"ht_trendline": lambda f: t.HT_TRENDLINE(c(f))},
        "midpoint:5": {"midpoint": lambda f: t.MIDPOINT(c(f), 5)},
        "midprice:5": {"midprice": lambda f: t.MIDPRICE(f["high"].to_numpy(), f["low"].to_numpy(), 5)},
        "linreg:14": {"linreg": lambda f: t.LINEARREG(c(f), 14)},
        "hl2": {"hl2": lambda f: t.MEDPRICE(f["high"].to_numpy(), f["low"].to_numpy())},
        "hlc3": {"hlc3": lambda f: t.TYPPRICE(*hlc(f))},
        "ohlc4": {"ohlc4": lambda f: t.AVGPRICE(f["open"].to_numpy(), *hlc(f))},
        "wcp": {"wcp": lambda f: t.WCLPRICE(*hlc(f))},
        "bbands:20:2": {
            "upper": lambda f: t.BBANDS(c(f), 20, 2.0, 2.0, 0)[0],
            "mid": lambda f: t.BBANDS(c(f), 20, 2.0, 2.0, 0)[1],
            "lower": lambda f: t.BBANDS(c(f), 20, 2.0, 2.0, 0)[2],
        },
        "rsi:14": {"rsi": lambda f: t.RSI(c(f), 14)},
        "rsi:7": {"rsi": lambda f: t.RSI(c(f), 7)},
        "macd:12:26:9": {
            "macd": lambda f: t.MACD(c(f), 12, 26, 9)[0],
            "signal": lambda f: t.MACD(c(f), 12, 26, 9)[1],
            "hist": lambda f: t.MACD(c(f), 12, 26, 9)[2],
        },
        "ppo": {"ppo": lambda f: t.PPO(c(f), 12, 26, 0)},
        "apo": {"apo": lambda f: t.APO(c(f), 12, 26, 0)},
        "mom:10": {"mom": lambda f: t.MOM(c(f), 10)},
        "roc:10": {"roc": lambda f: t.ROC(c(f), 10)},
        "cmo:14": {"cmo": lambda f: t.CMO(c(f), 14)},
        "trix:30": {"trix": lambda f: t.TRIX(c(f), 30)},
        "willr:14": {"willr": lambda f: t.WILLR(*hlc(f), 14)},
        "cci:20": {"cci": lambda f: t.CCI(*hlc(f), 20)},
        "bop": {"bop": lambda f: t.BOP(f["open"].to_numpy(), *hlc(f))},
        "stoch:14:3:3": {"k": lambda f: t.STOCH(*hlc(f), 14, 3, 0, 3, 0)[0], "d": lambda f: t.STOCH(*hlc(f), 14, 3, 0, 3, 0)[1]},
        "stochf:14:3": {"k": lambda f: t.STOCHF(*hlc(f), 14, 3, 0)[0], "d": lambda f: t.STOCHF(*hlc(f), 14, 3, 0)[1]},
        "stochrsi": {"k": stochrsi_k, "d": lambda f: t.SMA(stochrsi_k(f), 3)},
        "uo": {"uo": lambda f: t.ULTOSC(*hlc(f), 7, 14, 28)},
        "adx:14": {
            "adx": lambda f: t.ADX(*hlc(f), 14),
            "adxr": lambda f: t.ADXR(*hlc(f), 14),
            "dmp": lambda f: t.PLUS_DI(*hlc(f), 14),
            "dmn": lambda f: t.MINUS_DI(*hlc(f), 14),
        },
        "adx:7": {"adx": lambda f: t.ADX(*hlc(f), 7), "adxr": lambda f: t.ADXR(*hlc(f), 7)},
        "aroon:14": {
            "down": lambda f: t.AROON(f["high"].to_numpy(), f["low"].to_numpy(), 14)[0],
            "up": lambda f: t.AROON(f["high"].to_numpy(), f["low"].to_numpy(), 14)[1],
            "osc": lambda f: t.AROONOSC(f["high"].to_numpy(), f["low"].to_numpy(), 14),
        },
        "atr:14": {"atr": lambda f: t.ATR(*hlc(f), 14)},
        "natr:14": {"natr": lambda f: t.NATR(*hlc(f), 14)},
        "true_range": {"true_range": lambda f: t.TRANGE(*hlc(f))},
        "stdev:30": {"stdev": lambda f: t.STDDEV(c(f), 30, 1.0)},
        "variance:30": {"variance": lambda f: t.VAR(c(f), 30, 1.0)},
        "obv": {"obv": lambda f: t.OBV(c(f), v(f))},
        "ad": {"ad": lambda f: t.AD(*hlc(f), v(f))},
        "adosc": {"adosc": lambda f: t.ADOSC(*hlc(f), v(f), 3, 10)},
        "mfi:14": {"mfi": lambda f: t.MFI(*hlc(f), v(f), 14)},
        "rma:10": {"rma": lambda f: t.RMA(c(f), 10)},
        "kdj": {k: (lambda f, i=i: t.KDJ(*hlc(f), 9, 3, 13, 3, 13)[i]) for i, k in enumerate("kdj")},
        "pvt": {"pvt": lambda f: t.PVT(c(f), v(f))},
        "nvi": {"nvi": lambda f: t.NVI(c(f), v(f))},
        "pvi": {"pvi": lambda f: t.PVI(c(f), v(f)) / 10.0, "ma": lambda f: t.EMA(t.PVI(c(f), v(f)) / 10.0, 255)},
        # computed by pandas-ta, already equal to TA-Lib's (kept equal by this test)
        "accbands:20": {k: (lambda f, i=i: t.ACCBANDS(*hlc(f), 20)[i]) for i, k in enumerate(("upper", "mid", "lower"))},
        "ao": {"ao": lambda f: t.AO(f["high"].to_numpy(), f["low"].to_numpy(), 5, 34)},
        "cmf:20": {"cmf": lambda f: t.CMF(*hlc(f), v(f), 20)},
        "donchian:20": {
            k: (lambda f, i=i: t.DONCHIAN(f["high"].to_numpy(), f["low"].to_numpy(), 20)[i])
            for i, k in enumerate(("upper", "mid", "lower"))
        },
        "efi:13": {"efi": lambda f: t.EFI(c(f), v(f), 13)},
        "er:10": {"er": lambda f: t.ER(c(f), 10)},
        "hma:10": {"hma": lambda f: t.HMA(c(f), 10)},
        "massi": {"massi": lambda f: t.MASSI(f["high"].to_numpy(), f["low"].to_numpy(), 9, 25)},
        "qstick:10": {"qstick": lambda f: t.QSTICK(f["open"].to_numpy(), c(f), 10)},
        "smma:7": {"smma": lambda f: t.RMA(c(f), 7)},
        "vwma:10": {"vwma": lambda f: t.VWMA(c(f), v(f), 10)},
        "vortex:14": {k: (lambda f, i=i: t.VORTEX(*hlc(f), 14)[i]) for i, k in enumerate(("plus", "minus"))},
        "coppock": {"coppock": lambda f: t.COPPOCK(c(f), 10, 11, 14)},
        "eri:13": {k: (lambda f, i=i: t.ERI(*hlc(f), 13)[i]) for i, k in enumerate(("bull", "bear"))},
        "vhf:28": {"vhf": lambda f: t.VHF(c(f), 28)},
        "tsi": {"tsi": lambda f: t.TSI(c(f), 25, 13)},
        "ha": {k: (lambda f, i=i: t.HA(f["open"].to_numpy(), *hlc(f))[i]) for i, k in enumerate(("open", "high", "low", "close"))},
        "pvo": {"pvo": lambda f: t.PVO(v(f), 12, 26, 1)},
    }  # fmt: skip


TALIB_CASES = list(_talib_expected())
DATASETS = ["BBCA.csv", "BTCUSDT_1h.csv", "random"]


@pytest.fixture(scope="module")
def datasets() -> dict[str, pd.DataFrame]:
    return {name: random_bars() if name == "random" else load_sample(name) for name in DATASETS}


def _first_valid(values: np.ndarray) -> int | None:
    valid = np.flatnonzero(~np.isnan(values))
    return int(valid[0]) if len(valid) else None


@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("spec", TALIB_CASES)
def test_indicator_starts_on_talibs_first_valid_bar_and_equals_it(
    datasets: dict[str, pd.DataFrame], spec: str, data: str
) -> None:
    frame = datasets[data]
    result = compute(frame, spec)
    for field, expected_of in _talib_expected()[spec].items():
        expected = np.asarray(expected_of(frame), dtype="float64")  # type: ignore[operator]
        ours = result.fields[field].to_numpy()
        start = _first_valid(expected)
        assert start is not None, (spec, field)
        assert _first_valid(ours) == start, f"{spec}.{field}: first value on bar {_first_valid(ours)}, TA-Lib's on {start}"
        np.testing.assert_allclose(ours[start:], expected[start:], rtol=1e-9, atol=1e-9, err_msg=f"{spec}.{field}")


def test_every_talib_computed_indicator_is_checked_against_talib() -> None:
    checked = {parse_spec(spec).name for spec in TALIB_CASES}
    computed_by_talib = {name for name, info in catalogue().items() if info.talib}
    assert computed_by_talib <= checked
    assert {"rsi", "ema", "sma", "wma", "macd", "bbands", "atr", "adx", "stoch", "cci", "mfi", "obv"} <= checked
    assert {"willr", "roc", "mom", "natr", "trix", "dema", "tema", "kama"} <= computed_by_talib


def test_adx_of_the_issue_starts_on_bar_27_with_talibs_value(bars: pd.DataFrame) -> None:
    """Issue 10: ADX was published from bar 14 and far from TA-Lib's until bar ~146."""
    import talib

    h, low, c = bars["high"], bars["low"], bars["close"]
    adx = compute(bars, "adx").fields
    assert adx["adx"].iloc[:27].isna().all()
    assert adx["adx"].iloc[27] == pytest.approx(float(talib.ADX(h, low, c, 14).iloc[27]), rel=1e-12)
    assert adx["dmp"].iloc[:14].isna().all() and adx["dmp"].iloc[14:].notna().all()
    assert adx["dmn"].iloc[:14].isna().all() and adx["dmn"].iloc[14:].notna().all()
    # the standard ADXR: the mean of today's ADX and the ADX length - 1 bars back, from bar 3 * 14 - 2
    first = 3 * 14 - 2
    assert adx["adxr"].iloc[:first].isna().all()
    expected = (adx["adx"] + adx["adx"].shift(13)) / 2.0
    np.testing.assert_allclose(adx["adxr"].iloc[first:], expected.iloc[first:], rtol=1e-12)
    assert [p.name for p in indicator_info("adx").params] == ["length", "scalar"]


def test_talib_switch_does_not_change_an_indicator_talib_computes(bars: pd.DataFrame) -> None:
    for spec in ("rsi", "adx", "stoch", "macd", "natr", "cci"):
        on, off = compute(bars, spec, talib=True), compute(bars, spec, talib=False)
        for field in on.fields:
            pd.testing.assert_series_equal(on.fields[field], off.fields[field])


def test_script_call_and_watch_conditions_use_the_same_talib_values(bars: pd.DataFrame) -> None:
    import talib

    from core.market.conditions import parse_condition

    adx = call("adx", bars["high"], bars["low"], bars["close"], 14)
    assert isinstance(adx, dict)
    np.testing.assert_allclose(adx["adx"].iloc[27:], talib.ADX(bars["high"], bars["low"], bars["close"], 14).iloc[27:])
    rsi = talib.RSI(bars["close"], 14)
    cond = parse_condition(f"rsi<{float(rsi.iloc[-1]) + 1e-6}")
    assert cond.evaluate(bars).met is True


# --------------------------------------------------------------------------- /dict says where we differ


def test_dict_indicator_says_where_values_come_from_and_where_they_differ_on_purpose() -> None:
    from core.dictionary import service

    supertrend = service.entry("indicator", "supertrend").detail
    assert "TA-Lib" in supertrend and "differs" in supertrend and "flip" in supertrend
    adx = service.entry("indicator", "adx").detail
    assert "TA-Lib's ADX, ADXR, PLUS_DI and MINUS_DI" in adx
    rsi = service.entry("indicator", "rsi").detail
    assert "values: TA-Lib's" in rsi
    for name in CONVENTIONS:
        assert indicator_info(name).note == CONVENTIONS[name]
        assert CONVENTIONS[name] in service.entry("indicator", name).detail


# --------------------------------------------------------------------------- supertrend


def reference_supertrend(frame: pd.DataFrame, length: int, multiplier: float) -> pd.DataFrame:
    """Supertrend written out from its definition, one bar at a time.

    Bands are hl2 ± multiplier × ATR (Wilder's, TA-Lib's ATR). The first bar with an ATR starts
    an up trend. The trend turns down when the close falls below the previous bar's long band and
    up when it rises above the previous bar's short band. While a trend lasts its band only
    tightens (the long band never falls, the short band never rises); on the bar a trend starts,
    its band is that bar's own band, nothing carried over from before.
    """
    import talib

    h, low, c = frame["high"].to_numpy(), frame["low"].to_numpy(), frame["close"].to_numpy()
    atr = talib.ATR(h, low, c, length)
    hl2 = (h + low) / 2.0
    n = len(c)
    trend = np.full(n, np.nan)
    direction = np.full(n, np.nan)
    long_ = np.full(n, np.nan)
    short = np.full(n, np.nan)
    start = _first_valid(atr)
    assert start is not None
    band_long, band_short = hl2 - multiplier * atr, hl2 + multiplier * atr
    up = True
    active = band_long[start]
    for i in range(start, n):
        if i > start:
            if up and c[i] < active:
                up, active = False, band_short[i]
            elif not up and c[i] > active:
                up, active = True, band_long[i]
            else:
                active = max(active, band_long[i]) if up else min(active, band_short[i])
        trend[i] = active
        direction[i] = 1.0 if up else -1.0
        (long_ if up else short)[i] = active
    return pd.DataFrame({"trend": trend, "direction": direction, "long": long_, "short": short}, index=frame.index)


@pytest.mark.parametrize("data", DATASETS)
def test_supertrend_follows_its_definition_and_never_carries_a_band_across_a_flip(
    datasets: dict[str, pd.DataFrame], data: str
) -> None:
    frame = datasets[data]
    st = compute(frame, "supertrend:7:3").fields
    ref = reference_supertrend(frame, 7, 3.0)
    for field in ("trend", "direction", "long", "short"):
        np.testing.assert_allclose(st[field].to_numpy(), ref[field].to_numpy(), rtol=1e-9, err_msg=field)
    # the band shown is always the running trend's: long while up, short while down
    up, down = st["direction"] == 1, st["direction"] == -1
    assert st["short"][up].isna().all() and st["long"][down].isna().all()
    np.testing.assert_allclose(st["trend"][up], st["long"][up])
    np.testing.assert_allclose(st["trend"][down], st["short"][down])


def test_supertrend_latest_values_never_show_a_band_from_an_earlier_trend(bars: pd.DataFrame) -> None:
    st = compute(bars, "supertrend:7:3")
    direction = st.fields["direction"]
    flips = np.flatnonzero(direction.diff().fillna(0).to_numpy() != 0)
    assert len(flips) >= 2
    for end in flips[-4:] + 1:  # the bar a trend starts, as the latest bar
        last = IndicatorResult(st.spec, st.info, {k: v.iloc[:end] for k, v in st.fields.items()}).last()
        if last["direction"] == 1:
            assert last["short"] is None and last["long"] == last["trend"]
        else:
            assert last["long"] is None and last["short"] == last["trend"]

