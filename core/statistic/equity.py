"""The dashboard's equity curve: realised P&L plus open positions marked to market, and its drawdown.

Pure and vectorised (numpy), so it runs on the compute plane; ``core.statistic.dashboard`` reads
the fills and fetches the prices, then hands both here. Definitions (per quote currency, amounts in
that currency; like backtesting.py's ``Equity``/``Max. Drawdown``, but over P&L, since a deployment
trades a share of an account whose size we may not know):

**Points.** The window's start and end, every fill inside it, and the close of every priced bar
inside it (a bar's close is stamped at its open time plus the interval, the bar still forming at
``end`` at ``end``).

**Realised** ``R(t)``: the sum of ``pnl`` of the fills closing (part of) a position at or before
``t`` inside the window (``start <= executed_at <= t``), net of both legs' fees, as the dashboard's
P&L.

**Unrealised** ``U(t)``: over every position open at ``t`` (all fills up to ``t``, the window's
earlier ones included, per deployment)::

    U = qty * (mark - entry) - entry_fee

with ``qty`` signed (a short is negative), ``entry`` the average price of the fills that built what
is held, ``entry_fee`` their fees still carried (as ``/positions`` values a position), and ``mark``
the last bar close stamped at or before ``t``. A position with no price yet at ``t`` (before its
first bar, or a fill with no deployment to price it by) is marked at its entry price (``U`` is then
``-entry_fee``) and counted in ``unpriced``.

**Equity** ``E(t) = R(t) + U(t)``. At the start it is the unrealised P&L of what was already open;
at the end, the realised P&L of the window plus the unrealised P&L now.

**Capital** ``C``: the most entry value (``|qty| * entry``) held open at once at any point of the
window: the money the curve was made with.

**Drawdown** (underwater) at ``t``, with ``peak(t) = max(E(s) for s <= t)``::

    drawdown(t)   = E(t) - peak(t)                       (<= 0, in money)
    drawdown%(t)  = drawdown(t) / (C + peak(t)) * 100     (None when C + peak <= 0)

**Max drawdown**: the lowest ``drawdown%`` (and, in money, the lowest ``drawdown``) over the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core.broker.types import Side


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill as the curve needs it. ``book`` names the position it belongs to (its deployment)."""

    at: datetime
    book: str
    currency: str
    side: Side
    qty: float
    price: float
    fee: float
    pnl: float | None  # set on fills that closed (part of) a position


@dataclass(frozen=True, slots=True)
class Marks:
    """Bar closes of one instrument, stamped when each was known (seconds since the epoch, ascending)."""

    stamps: np.ndarray
    closes: np.ndarray


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """One currency's equity at each point of the window (see the module's definitions)."""

    currency: str
    times: tuple[datetime, ...]
    realised: np.ndarray
    unrealised: np.ndarray
    capital: float
    unpriced: int = 0  # positions marked at their entry price for want of a price (some or all of the time)

    @property
    def equity(self) -> np.ndarray:
        return self.realised + self.unrealised

    @property
    def peak(self) -> np.ndarray:
        return np.maximum.accumulate(self.equity)

    @property
    def drawdown(self) -> np.ndarray:
        """Money below the running peak (0 at a new peak, negative under it)."""
        return self.equity - self.peak

    @property
    def drawdown_pct(self) -> np.ndarray | None:
        """``drawdown / (capital + peak) * 100``; None when there was no capital to measure against."""
        base = self.capital + self.peak
        if self.capital <= 0 or not (base > 0).all():
            return None
        return self.drawdown / base * 100.0

    @property
    def max_drawdown(self) -> float:
        """The deepest drawdown in money (0.0 or negative)."""
        return float(self.drawdown.min(initial=0.0))

    @property
    def max_drawdown_pct(self) -> float | None:
        pct = self.drawdown_pct
        return None if pct is None else float(pct.min(initial=0.0))

    @property
    def unrealised_now(self) -> float:
        return float(self.unrealised[-1])

    @property
    def realised_now(self) -> float:
        return float(self.realised[-1])

    def at(self, when: datetime) -> tuple[float, float]:
        """(realised, unrealised) at the point ``when`` (one of ``times``)."""
        i = self.times.index(when)
        return float(self.realised[i]), float(self.unrealised[i])


def _seconds(when: datetime) -> float:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def equity_curves(
    fills: Sequence[Fill], marks: dict[str, Marks], start: datetime, end: datetime
) -> dict[str, EquityCurve]:
    """Each currency's curve over ``start..end`` from every fill before ``end`` (oldest first) and the
    marks of each position's book (``marks[book]``); currencies with no fill in the window and nothing
    open in it are left out."""
    t0, t1 = _seconds(start), _seconds(end)
    books: dict[str, list[Fill]] = defaultdict(list)
    for f in fills:
        if _seconds(f.at) < t1:
            books[f.book].append(f)
    by_currency: dict[str, list[str]] = defaultdict(list)
    for book, own in books.items():
        by_currency[own[-1].currency].append(book)
    curves: dict[str, EquityCurve] = {}
    for currency, names in sorted(by_currency.items()):
        curve = _curve(currency, {name: books[name] for name in names}, marks, t0, t1)
        if curve is not None:
            curves[currency] = curve
    return curves


@dataclass(frozen=True, slots=True)
class _Steps:
    """A book's state after each of its fills: when, signed quantity, average entry, carried fee."""

    at: np.ndarray
    qty: np.ndarray
    entry: np.ndarray
    fee: np.ndarray


def _steps(fills: list[Fill]) -> _Steps:
    """Walk a book's fills: adding to a position moves its average entry and adds the fee; reducing
    it keeps the entry and carries the unsold share of the fee; crossing zero starts afresh. A
    closing fill (one with a P&L) on a flat book opens nothing: what it closed came before."""
    qty = entry = fee = 0.0
    rows = []
    for f in fills:
        signed = f.qty if f.side == Side.BUY else -f.qty
        if qty == 0.0 and f.pnl is not None:
            pass  # it closed a position opened before the fills we hold: nothing is left open
        elif qty == 0.0 or (qty > 0) == (signed > 0):  # opening or adding
            total = qty + signed
            entry = (abs(qty) * entry + abs(signed) * f.price) / abs(total) if total else 0.0
            fee += f.fee
            qty = total
        else:  # reducing, closing or flipping
            left = qty + signed
            if left == 0.0 or abs(left) <= 1e-12 * max(abs(signed), 1.0):
                qty, entry, fee = 0.0, 0.0, 0.0
            elif (left > 0) == (qty > 0):
                fee *= abs(left) / abs(qty)
                qty = left
            else:  # flipped: the remainder opens the other way at this fill's price
                share = abs(left) / abs(signed)
                qty, entry, fee = left, f.price, f.fee * share
        rows.append((_seconds(f.at), qty, entry, fee))
    table = np.array(rows, dtype="float64").reshape(-1, 4)
    return _Steps(table[:, 0], table[:, 1], table[:, 2], table[:, 3])


def _curve(
    currency: str, books: dict[str, list[Fill]], marks: dict[str, Marks], t0: float, t1: float
) -> EquityCurve | None:
    steps = {name: _steps(own) for name, own in books.items()}
    inside = [f for own in books.values() for f in own if _seconds(f.at) >= t0]
    open_at_start = any(_state_at(s, t0)[0] != 0.0 for s in steps.values())
    if not inside and not open_at_start:
        return None
    points = {t0, t1, *(_seconds(f.at) for f in inside)}
    for name, s in steps.items():
        mark = marks.get(name)
        if mark is None or not _ever_open(s, t0, t1):
            continue
        stamps = mark.stamps[(mark.stamps > t0) & (mark.stamps < t1)]
        points.update(stamps.tolist())
    at = np.array(sorted(points), dtype="float64")

    closing = sorted((_seconds(f.at), f.pnl) for f in inside if f.pnl is not None)
    close_at = np.array([c[0] for c in closing], dtype="float64")
    cum = np.concatenate([[0.0], np.cumsum([c[1] for c in closing], dtype="float64")])
    realised = cum[np.searchsorted(close_at, at, side="right")]

    unrealised = np.zeros_like(at)
    committed = np.zeros_like(at)
    unpriced = 0
    for name, s in steps.items():
        i = np.searchsorted(s.at, at, side="right") - 1
        held = i >= 0
        j = np.where(held, i, 0)
        qty = np.where(held, s.qty[j], 0.0)
        entry = np.where(held, s.entry[j], 0.0)
        fee = np.where(held, s.fee[j], 0.0)
        mark = marks.get(name)
        price = entry.copy()
        priced: np.ndarray = np.zeros(len(at), dtype=bool)
        if mark is not None and len(mark.stamps):
            k = np.searchsorted(mark.stamps, at, side="right") - 1
            priced = k >= 0
            price = np.where(priced, mark.closes[np.where(priced, k, 0)], entry)
        if ((qty != 0.0) & ~priced).any():
            unpriced += 1
        unrealised += np.where(qty != 0.0, qty * (price - entry) - fee, 0.0)
        committed += np.abs(qty) * entry
    times = tuple(datetime.fromtimestamp(float(t), UTC) for t in at)
    return EquityCurve(currency, times, realised, unrealised, float(committed.max(initial=0.0)), unpriced)


def _state_at(s: _Steps, t: float) -> tuple[float, float]:
    i = int(np.searchsorted(s.at, t, side="right")) - 1
    return (float(s.qty[i]), float(s.entry[i])) if i >= 0 else (0.0, 0.0)


def _ever_open(s: _Steps, t0: float, t1: float) -> bool:
    """Whether the book held anything at some moment of ``[t0, t1]``."""
    if _state_at(s, t0)[0] != 0.0:
        return True
    inside = (s.at >= t0) & (s.at <= t1)
    return bool((s.qty[inside] != 0.0).any())


def marks_of(opened_s: np.ndarray, closes: np.ndarray, interval_s: float, end: datetime) -> Marks:
    """Bar closes (bars opened at ``opened_s``, seconds since the epoch) stamped at each bar's open time plus ``interval_s`` (the bar still forming at
    ``end``, at ``end``); NaN closes and bars opened at or after ``end`` dropped."""
    opened = np.asarray(opened_s, dtype="float64")
    values = np.asarray(closes, dtype="float64")
    keep = np.isfinite(values) & (opened < _seconds(end))
    stamps = np.minimum(opened[keep] + interval_s, _seconds(end))
    return Marks(stamps, values[keep])
