"""Indicators by pandas-ta name: catalogue, parsing, computing, and agreement with TA-Lib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import Invalid, NotFound
from core.market import indicators as ind
from tests.sample_bars import sample_bars

ROOT = Path(__file__).resolve().parents[2]


def load_sample(name: str = "BBCA.csv") -> pd.DataFrame:
    ticker, _, interval = name.removesuffix(".csv").partition("_")
    return sample_bars(ticker, interval or "1d")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return load_sample()


@pytest.fixture(scope="module")
def every_result(bars: pd.DataFrame) -> dict[str, ind.IndicatorResult]:
    return {name: ind.compute(bars, name) for name in ind.catalogue()}


def test_importing_the_modules_loads_no_heavy_library() -> None:
    code = (
        "import sys, core.market.indicators, core.charts, core.charts.candles\n"
        "heavy = [m for m in ('pandas_ta', 'talib', 'numba', 'mplfinance', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


# --------------------------------------------------------------------------- catalogue


def test_catalogue_covers_the_usual_indicators_and_leaves_out_the_unsafe() -> None:
    cat = ind.catalogue()
    assert len(cat) >= 120
    for name in ["rsi", "macd", "bbands", "ema", "sma", "stoch", "atr", "supertrend", "vwap", "obv", "adx"]:
        assert name in cat
    for name in ["cci", "mfi", "willr", "kc", "donchian", "aroon", "stochrsi", "ichimoku", "psar"]:
        assert name in cat
    for name in ind.EXCLUDED:
        assert name not in cat


def test_catalogue_entries_are_well_formed() -> None:
    allowed_inputs = {"open", "high", "low", "close", "volume"}
    for name, info in ind.catalogue().items():
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
    cat = ind.catalogue()
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


def test_info_suggests_the_nearest_name() -> None:
    assert ind.info("RSI").name == "rsi"
    assert ind.info("bb").name == "bbands"
    with pytest.raises(NotFound, match="did you mean 'macd'"):
        ind.info("macdd")
    with pytest.raises(NotFound, match="not available"):
        ind.info("zigzag")


# --------------------------------------------------------------------------- every indicator


def test_every_catalogued_indicator_computes_on_sample_data(
    bars: pd.DataFrame, every_result: dict[str, ind.IndicatorResult]
) -> None:
    for name, result in every_result.items():
        info = ind.catalogue()[name]
        assert tuple(result.fields) == info.fields, name  # the alias table matches pandas-ta's columns
        for field, series in result.fields.items():
            assert series.index.equals(bars.index), (name, field)
            assert series.dtype == np.float64, (name, field)
            assert series.notna().sum() > 0, (name, field)
        assert result.primary is result.fields[info.fields[0]]


def test_no_indicator_looks_ahead(bars: pd.DataFrame, every_result: dict[str, ind.IndicatorResult]) -> None:
    """A value on bar i must not change when later bars arrive: what a backtest sees is what was knowable."""
    cut = 600
    early = bars.iloc[:cut]
    for name, full in every_result.items():
        part = ind.compute(early, name)
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
        for name in ind.catalogue():
            try:
                result = ind.compute(bars.iloc[:n], name)
            except Invalid as e:
                assert name.upper() in str(e)
                continue
            assert all(len(s) == n for s in result.fields.values()), name
    with pytest.raises(Invalid, match="needs more bars than the 10 available"):
        ind.compute(bars.iloc[:10], "sma:50")


def test_derive_fields_strips_parameters_and_the_shared_prefix() -> None:
    assert ind.derive_fields("macd", ["MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9"]) == ("macd", "h", "s")
    assert ind.derive_fields("stoch", ["STOCHk_14_3_3", "STOCHd_14_3_3"]) == ("k", "d")
    assert ind.derive_fields("rsi", ["RSI_14"]) == ("rsi",)
    assert ind.derive_fields("bbands", ["BBL_5_2.0", "BBM_5_2.0", "BBU_5_2.0"]) == ("l", "m", "u")
    twins = ind.derive_fields("aobv", ["OBV", "OBVe_4", "OBVe_12"])
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
    spec = ind.parse_spec(text)
    assert spec.text == canonical
    assert str(spec) == canonical
    assert spec.label == label
    assert ind.parse_spec(canonical) == spec


def test_parse_spec_keeps_lengths_whole_and_multipliers_float() -> None:
    spec = ind.parse_spec("bbands:20:2")
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
        ind.parse_spec(text)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- values


def test_result_last_skips_trailing_gaps(bars: pd.DataFrame) -> None:
    result = ind.compute(bars, "macd")
    last = result.last()
    assert set(last) == {"macd", "hist", "signal"}
    assert last["hist"] == pytest.approx(last["macd"] - last["signal"])
    result.fields["macd"].iloc[-3:] = np.nan
    assert result.last()["macd"] == pytest.approx(float(result.fields["macd"].iloc[-4]))
    assert not result.overlay and result.label == "MACD(12,26,9)"


def test_compute_many_computes_a_repeated_spec_once(bars: pd.DataFrame) -> None:
    results = ind.compute_many(bars, ["rsi", "rsi:14", ind.parse_spec("ema:20")])
    assert results[0] is results[1]
    assert [r.spec.text for r in results] == ["rsi:14", "rsi:14", "ema:20"]


def test_bbands_and_supertrend_follow_the_traps_in_facts(bars: pd.DataFrame) -> None:
    import pandas_ta as ta
    import talib

    bb = ind.compute(bars, "bbands:20:2")
    upper, middle, lower = talib.BBANDS(bars["close"], 20, 2.0, 2.0)
    np.testing.assert_allclose(bb.fields["upper"].iloc[-50:], upper.iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(bb.fields["lower"].iloc[-50:], lower.iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(bb.fields["mid"].iloc[-50:], middle.iloc[-50:], rtol=1e-6)

    st = ind.compute(bars, "supertrend:7:3")
    ref = ta.supertrend(bars["high"], bars["low"], bars["close"], length=7, multiplier=3.0)
    np.testing.assert_allclose(st.fields["trend"], ref.iloc[:, 0], rtol=1e-12)
    assert set(st.fields["direction"].dropna().unique()) <= {-1.0, 1.0}


@pytest.mark.parametrize("spec", ["rsi:14", "ema:20", "sma:20", "macd", "bbands:20:2", "atr:14"])
def test_talib_and_pandas_ta_paths_agree(bars: pd.DataFrame, spec: str) -> None:
    with_talib = ind.compute(bars, spec, talib=True)
    without = ind.compute(bars, spec, talib=False)
    for field in with_talib.fields:
        np.testing.assert_allclose(
            without.fields[field].iloc[-50:], with_talib.fields[field].iloc[-50:], rtol=1e-6, err_msg=field
        )


@pytest.mark.parametrize("use_talib", [True, False])
def test_cci_adx_and_wcp_match_talib_on_both_paths(bars: pd.DataFrame, use_talib: bool) -> None:
    """pandas-ta's own cci/wcp and its TA-Lib adx DMP/DMN are wrong; this module corrects them."""
    import talib

    h, low, c = bars["high"], bars["low"], bars["close"]
    cci = ind.compute(bars, "cci:14", talib=use_talib).primary
    np.testing.assert_allclose(cci.iloc[-50:], talib.CCI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    adx = ind.compute(bars, "adx:14", talib=use_talib).fields
    np.testing.assert_allclose(adx["adx"].iloc[-50:], talib.ADX(h, low, c, 14).iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(adx["dmp"].iloc[-50:], talib.PLUS_DI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    np.testing.assert_allclose(adx["dmn"].iloc[-50:], talib.MINUS_DI(h, low, c, 14).iloc[-50:], rtol=1e-6)
    wcp = ind.compute(bars, "wcp", talib=use_talib).primary
    np.testing.assert_allclose(wcp.iloc[-50:], talib.WCLPRICE(h, low, c).iloc[-50:], rtol=1e-9)


def test_vwap_on_intraday_bars() -> None:
    hourly = load_sample("BTCUSDT_1h.csv")
    vwap = ind.compute(hourly, "vwap").primary
    assert vwap.notna().all()
    assert (vwap <= hourly["high"].cummax()).all()


# --------------------------------------------------------------------------- call (for the script language)


def test_call_returns_a_series_or_named_fields(bars: pd.DataFrame) -> None:
    c = bars["close"]
    rsi = ind.call("rsi", c, 14)
    assert isinstance(rsi, pd.Series) and rsi.index.equals(c.index)
    pd.testing.assert_series_equal(rsi, ind.compute(bars, "rsi:14").primary)
    pd.testing.assert_series_equal(ind.call("rsi", c, length=14), rsi)
    pd.testing.assert_series_equal(ind.call("rsi", close=c), rsi)

    macd = ind.call("macd", c, 12, 26, signal=9)
    assert isinstance(macd, dict) and list(macd) == ["macd", "hist", "signal"]
    bb = ind.call("bbands", c, 20, 2)
    assert isinstance(bb, dict) and (bb["upper"].dropna() >= bb["lower"].dropna()).all()
    st = ind.call("supertrend", bars["high"], bars["low"], c, 7, 3)
    pd.testing.assert_series_equal(st["direction"], ind.compute(bars, "supertrend:7:3").fields["direction"])
    atr = ind.call("atr", bars["high"], bars["low"], c, 14.0)  # whole floats are fine for lengths
    assert isinstance(atr, pd.Series)
    # an indicator of an indicator, with its warm-up NaNs
    smoothed = ind.call("ema", rsi, 9)
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
        ind.call(name, *real, **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)
