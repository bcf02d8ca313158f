"""From broker flows to a summary: ranking, net flow, foreign split and the verdict.

Ranking is by *net* value, as Stockbit's default broker summary does: a broker that bought
10B and sold 9B of a ticker moved 1B on balance, and ranking it by its gross 10B would put
day-traders at the top. Over a complete day every lot bought was sold by someone, so the net
of all brokers together is zero; the net that says something is the top buyers' against the
top sellers', which is what ``BrokerSummary.net_value`` and the verdict use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from core.bandarmology.types import SHARES_PER_LOT, BrokerFlow, BrokerSummary, Player, Verdict
from core.errors import NotFound

TOP = 3  # the verdict compares the top 3 buyers with the top 3 sellers
SHOWN = 10  # rows of each side kept for replies and charts


def verdict_of(buy: float, sell: float) -> Verdict:
    """Stockbit's label for the top buyers' value ``buy`` against the top sellers' ``sell``.

    With r = buy / sell:

    - r >= 1.5          Big Acc  (buyers outweigh sellers by half again or more)
    - 1.1 <= r < 1.5    Acc
    - 1/1.1 < r < 1.1   Neutral  (within 10 % either way)
    - 1/1.5 < r <= 1/1.1 Dist
    - r <= 1/1.5        Big Dist

    The bands are symmetric: swapping buyers and sellers swaps Acc and Dist (the lower bounds
    are 0.909... and 0.666..., not rounded 0.9 and 0.67). Comparisons are made on
    cross-products (2·buy >= 3·sell) so the boundaries are exact in floating point. Nobody
    selling with somebody buying is Big Acc (r is infinite); nobody trading is Neutral.
    """
    if buy <= 0 and sell <= 0:
        return Verdict.NEUTRAL
    if 2 * buy >= 3 * sell:
        return Verdict.BIG_ACC
    if 2 * sell >= 3 * buy:
        return Verdict.BIG_DIST
    if 10 * buy >= 11 * sell:
        return Verdict.ACC
    if 10 * sell >= 11 * buy:
        return Verdict.DIST
    return Verdict.NEUTRAL


def combine(flows: Iterable[BrokerFlow]) -> dict[str, BrokerFlow]:
    """Each broker's flows over days and investor types added up (investor kept when it is one)."""
    out: dict[str, BrokerFlow] = {}
    for f in flows:
        seen = out.get(f.broker)
        if seen is None:
            out[f.broker] = BrokerFlow(
                f.broker,
                f.investor,
                f.buy_lot,
                f.buy_value,
                f.sell_lot,
                f.sell_value,
                f.buy_freq,
                f.sell_freq,
            )
            continue
        out[f.broker] = BrokerFlow(
            f.broker,
            seen.investor if seen.investor == f.investor else "",
            seen.buy_lot + f.buy_lot,
            seen.buy_value + f.buy_value,
            seen.sell_lot + f.sell_lot,
            seen.sell_value + f.sell_value,
            _add(seen.buy_freq, f.buy_freq),
            _add(seen.sell_freq, f.sell_freq),
        )
    return out


def summarize_flows(
    ticker: str,
    flows: list[BrokerFlow],
    *,
    provider: str,
    start: date,
    end: date,
    sample: bool = False,
    notes: tuple[str, ...] = (),
) -> BrokerSummary:
    """The IDX broker summary of ``flows`` (any number of days and investor types)."""
    if not flows:
        raise NotFound(f"no broker activity for {ticker} from {start} to {end}")
    brokers = combine(flows).values()
    buyers = sorted((b for b in brokers if b.net_value > 0), key=lambda b: (-b.net_value, b.broker))
    sellers = sorted((b for b in brokers if b.net_value < 0), key=lambda b: (b.net_value, b.broker))
    top_buy, top_sell = buyers[:TOP], sellers[:TOP]
    buy_value = sum(b.net_value for b in top_buy)
    sell_value = -sum(b.net_value for b in top_sell)
    days = len({f.day for f in flows if f.day is not None}) or None
    return BrokerSummary(
        ticker=ticker,
        market="idx",
        provider=provider,
        start=start,
        end=end,
        buyers=tuple(_player(b, buying=True) for b in buyers[:SHOWN]),
        sellers=tuple(_player(b, buying=False) for b in sellers[:SHOWN]),
        top_buy_value=buy_value,
        top_sell_value=sell_value,
        top_buy_volume=sum(b.net_lot for b in top_buy),
        top_sell_volume=-sum(b.net_lot for b in top_sell),
        total_value=sum(f.buy_value for f in flows),
        verdict=verdict_of(buy_value, sell_value),
        basis=f"top {TOP} net buyers against top {TOP} net sellers by value",
        days=days,
        foreign=_side(flows, "F"),
        domestic=_side(flows, "D"),
        sample=sample,
        notes=notes,
    )


def _player(flow: BrokerFlow, *, buying: bool) -> Player:
    lots, value = (flow.buy_lot, flow.buy_value) if buying else (flow.sell_lot, flow.sell_value)
    avg = value / (lots * SHARES_PER_LOT) if lots > 0 else None
    sign = 1 if buying else -1
    trades = flow.buy_freq if buying else flow.sell_freq
    return Player(flow.broker, sign * flow.net_lot, sign * flow.net_value, avg, flow.investor, trades)


def _side(flows: list[BrokerFlow], investor: str) -> tuple[float, float] | None:
    """(buy, sell) value of one investor type; None when the data does not tell investors apart."""
    if not any(f.investor in ("F", "D") for f in flows):
        return None
    mine = [f for f in flows if f.investor == investor]
    return sum(f.buy_value for f in mine), sum(f.sell_value for f in mine)


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)
