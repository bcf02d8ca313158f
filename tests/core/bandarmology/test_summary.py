"""The verdict's boundaries and the summary's figures on hand-made broker flows."""

from __future__ import annotations

import math
from datetime import date

import pytest

from core.bandarmology.summary import summarize_flows, verdict_of
from core.bandarmology.types import BrokerFlow, Verdict
from core.errors import NotFound


@pytest.mark.parametrize(
    ("buy", "sell", "expected"),
    [
        (150, 100, Verdict.BIG_ACC),  # r = 1.5 exactly
        (149.99, 100, Verdict.ACC),
        (110, 100, Verdict.ACC),  # r = 1.1 exactly
        (109.99, 100, Verdict.NEUTRAL),
        (100, 100, Verdict.NEUTRAL),
        (100, 109.99, Verdict.NEUTRAL),
        (100, 110, Verdict.DIST),  # r = 1/1.1 exactly
        (100, 149.99, Verdict.DIST),
        (100, 150, Verdict.BIG_DIST),  # r = 1/1.5 exactly
        (11, 10, Verdict.ACC),  # float-exact at the boundary (1.1 * 10 != 11.0 in floating point)
        (10, 11, Verdict.DIST),
        (3, 2, Verdict.BIG_ACC),
        (2, 3, Verdict.BIG_DIST),
        (5, 0, Verdict.BIG_ACC),  # nobody sold
        (0, 5, Verdict.BIG_DIST),
        (0, 0, Verdict.NEUTRAL),  # nobody traded
    ],
)
def test_verdict_boundaries(buy: float, sell: float, expected: Verdict) -> None:
    assert verdict_of(buy, sell) is expected


@pytest.mark.parametrize("ratio", [0.5, 0.66, 0.7, 0.95, 1.0, 1.05, 1.2, 1.49, 2.0])
def test_verdict_is_symmetric(ratio: float) -> None:
    mirror = {Verdict.BIG_ACC: Verdict.BIG_DIST, Verdict.ACC: Verdict.DIST, Verdict.NEUTRAL: Verdict.NEUTRAL}
    mirror |= {v: k for k, v in mirror.items()}
    assert verdict_of(1.0, ratio) is mirror[verdict_of(ratio, 1.0)]


def _flow(broker: str, investor: str, bl: int, bv: float, sl: int, sv: float, day: int = 3) -> BrokerFlow:
    return BrokerFlow(broker, investor, bl, bv, sl, sv, day=date(2024, 6, day))


FLOWS = [
    # two days, foreign and domestic rows; prices 9,500 a share = 950,000 a lot
    _flow("AK", "F", 10_000, 9.5e9, 2_000, 1.9e9, day=3),
    _flow("AK", "F", 10_000, 9.5e9, 0, 0.0, day=4),
    _flow("AK", "D", 1_000, 0.95e9, 0, 0.0, day=4),
    _flow("YP", "D", 5_000, 4.75e9, 14_000, 13.3e9, day=3),
    _flow("CC", "D", 6_000, 5.7e9, 1_000, 0.95e9, day=3),
    _flow("BK", "F", 0, 0.0, 9_000, 8.55e9, day=4),
    _flow("PD", "D", 2_000, 1.9e9, 5_000, 4.75e9, day=4),
    _flow("XL", "D", 1_000, 0.95e9, 0, 0.0, day=4),
    _flow("NI", "D", 2_000, 1.9e9, 2_000, 1.9e9, day=4),  # net zero: on neither side
]


def test_summary_ranks_brokers_by_net_value() -> None:
    s = summarize_flows("BBCA", FLOWS, provider="test", start=date(2024, 6, 3), end=date(2024, 6, 4))
    assert [p.code for p in s.buyers] == ["AK", "CC", "XL"]
    assert [p.code for p in s.sellers] == ["BK", "YP", "PD"]
    ak = s.buyers[0]
    assert (ak.lots, ak.value, ak.investor) == (19_000, 18.05e9, "")  # F and D rows added up: investor mixed
    assert ak.avg_price == pytest.approx(9_500)  # gross buy value / (buy lots x 100)
    bk = s.sellers[0]
    assert (bk.lots, bk.value, bk.investor) == (9_000, 8.55e9, "F")  # sellers' figures are positive
    assert bk.avg_price == pytest.approx(9_500)
    assert s.top_buy_value == pytest.approx(18.05e9 + 4.75e9 + 0.95e9)
    assert s.top_sell_value == pytest.approx(8.55e9 + 8.55e9 + 2.85e9)
    assert s.top_buy_volume == 19_000 + 5_000 + 1_000
    assert s.top_sell_volume == 9_000 + 9_000 + 3_000
    assert s.net_value == pytest.approx(23.75e9 - 19.95e9)
    assert s.top3_ratio == pytest.approx(23.75 / 19.95)
    assert s.verdict is Verdict.ACC  # 1.19
    assert s.days == 2
    assert s.total_value == pytest.approx(sum(f.buy_value for f in FLOWS))
    assert s.foreign == (pytest.approx(19e9), pytest.approx(10.45e9))
    assert s.foreign_net == pytest.approx(8.55e9)
    assert s.domestic == (pytest.approx(16.15e9), pytest.approx(20.9e9))
    assert s.domestic_net == pytest.approx(-4.75e9)
    assert s.metrics() == {
        "net_value": pytest.approx(3.8e9),
        "net_volume": 4_000,
        "top3_buy_value": pytest.approx(23.75e9),
        "top3_sell_value": pytest.approx(19.95e9),
        "top3_ratio": pytest.approx(23.75 / 19.95),
        "foreign_net": pytest.approx(8.55e9),
    }


def test_without_investor_types_foreign_is_unknown() -> None:
    flows = [_flow("AK", "", 10, 9.5e6, 0, 0.0), _flow("YP", "", 0, 0.0, 10, 9.5e6)]
    s = summarize_flows("BBCA", flows, provider="t", start=date(2024, 6, 3), end=date(2024, 6, 3))
    assert s.foreign is None and s.foreign_net is None and s.metrics()["foreign_net"] is None
    assert s.verdict is Verdict.NEUTRAL and s.top3_ratio == 1.0


def test_only_buyers_is_big_acc_with_an_infinite_ratio() -> None:
    s = summarize_flows("BBCA", [_flow("AK", "F", 10, 9.5e6, 0, 0.0)], provider="t",
                        start=date(2024, 6, 3), end=date(2024, 6, 3))  # fmt: skip
    assert s.sellers == () and s.verdict is Verdict.BIG_ACC and math.isinf(s.top3_ratio or 0)


def test_no_flows_is_not_found() -> None:
    with pytest.raises(NotFound, match="no broker activity for BBCA"):
        summarize_flows("BBCA", [], provider="t", start=date(2024, 6, 3), end=date(2024, 6, 3))
