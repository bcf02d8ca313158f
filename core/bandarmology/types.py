"""The shapes the bandarmology domain passes around: broker flows in, a summary out.

A ``BrokerFlow`` is what every IDX source yields (one broker's buying and selling of one ticker,
for one investor type, over some days); a ``BrokerSummary`` is what replies, charts and
strategy screens read. Crypto trade analysis produces the same summary, with the large and
small takers standing in for brokers (exchange trades carry no broker codes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from core.market.symbols import IDX_CURRENCY, IDX_LOT

SHARES_PER_LOT = IDX_LOT  # every source here reports IDX flows: one lot is 100 shares


class Verdict(StrEnum):
    """Stockbit's labels for the top buyers against the top sellers (see ``summary.verdict_of``)."""

    BIG_ACC = "Big Acc"
    ACC = "Acc"
    NEUTRAL = "Neutral"
    DIST = "Dist"
    BIG_DIST = "Big Dist"

    @property
    def meaning(self) -> str:
        return {
            Verdict.BIG_ACC: "big accumulation",
            Verdict.ACC: "accumulation",
            Verdict.NEUTRAL: "neutral",
            Verdict.DIST: "distribution",
            Verdict.BIG_DIST: "big distribution",
        }[self]


@dataclass(frozen=True, slots=True)
class BrokerFlow:
    """One broker's gross buying and selling (lots and IDR value) of a ticker.

    ``investor`` is ``F`` (foreign), ``D`` (domestic) or ``""`` when the source does not say.
    Frequencies (number of trades) are optional: imported CSVs do not carry them.
    """

    broker: str
    investor: str = ""
    buy_lot: float = 0.0
    buy_value: float = 0.0
    sell_lot: float = 0.0
    sell_value: float = 0.0
    buy_freq: int | None = None
    sell_freq: int | None = None
    day: date | None = None

    @property
    def net_value(self) -> float:
        return self.buy_value - self.sell_value

    @property
    def net_lot(self) -> float:
        return self.buy_lot - self.sell_lot


@dataclass(frozen=True, slots=True)
class Player:
    """One row of a summary's top buyers or sellers.

    IDX: a broker ranked by net value; ``lots`` and ``value`` are its net lots and net value
    (positive for sellers too: what it sold on balance), ``avg_price`` its gross average buy
    (buyers) or sell (sellers) price per share. Crypto: a group of takers (``LARGE``/``SMALL``);
    ``lots`` is the volume in the base currency, ``value`` in the quote currency.
    """

    code: str
    lots: float
    value: float
    avg_price: float | None
    investor: str = ""
    trades: int | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class BrokerSummary:
    """Who bought and who sold a ticker over a window, and what that suggests.

    ``top_buy_value``/``top_sell_value`` are the verdict's inputs: the top 3 net buyers' and
    sellers' value for IDX, the large takers' buying and selling for crypto (``basis`` says which).
    """

    ticker: str
    market: Literal["idx", "crypto"]
    provider: str
    start: date | datetime
    end: date | datetime
    buyers: tuple[Player, ...]
    sellers: tuple[Player, ...]
    top_buy_value: float
    top_sell_value: float
    top_buy_volume: float
    top_sell_volume: float
    total_value: float  # gross value traded in the window
    verdict: Verdict
    basis: str
    currency: str = IDX_CURRENCY
    volume_unit: str = "lots"
    days: int | None = None  # trading days covered (IDX)
    foreign: tuple[float, float] | None = None  # (buy value, sell value) of foreign investors, when known
    domestic: tuple[float, float] | None = None
    sample: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def net_value(self) -> float:
        """The big players' net: top buyers' value minus top sellers' value."""
        return self.top_buy_value - self.top_sell_value

    @property
    def net_volume(self) -> float:
        return self.top_buy_volume - self.top_sell_volume

    @property
    def top3_ratio(self) -> float | None:
        """Top buy value over top sell value; infinite when nobody sold, None when nobody traded."""
        if self.top_sell_value > 0:
            return self.top_buy_value / self.top_sell_value
        return math.inf if self.top_buy_value > 0 else None

    @property
    def foreign_net(self) -> float | None:
        return None if self.foreign is None else self.foreign[0] - self.foreign[1]

    @property
    def domestic_net(self) -> float | None:
        return None if self.domestic is None else self.domestic[0] - self.domestic[1]

    def metrics(self) -> dict[str, float | None]:
        """The values Bandarmology strategy rules compare (``core.strategy.rules.BANDAR_METRICS``)."""
        return {
            "net_value": self.net_value,
            "net_volume": self.net_volume,
            "top3_buy_value": self.top_buy_value,
            "top3_sell_value": self.top_sell_value,
            "top3_ratio": self.top3_ratio,
            "foreign_net": self.foreign_net,
        }
