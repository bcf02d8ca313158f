"""One ranking rule for every source's ticker search.

Yahoo, Binance and the CSV source each find candidates their own way; ranking them
with the same rule means ``/search bbca`` orders results alike whatever serves it:
exact symbol, then symbol prefix, then a name word starting with the query, then any
substring; ties go to the source's own bias, then the shorter symbol, then the provider's order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXACT, PREFIX, NAME_WORD, SUBSTRING, OTHER = range(5)
_NON_ALNUM = re.compile(r"[^0-9A-Z]")


def squash(text: str) -> str:
    """Upper-case alphanumerics only, so ``btc/usdt``, ``BTC-USDT`` and ``BTCUSDT`` compare equal."""
    return _NON_ALNUM.sub("", text.upper())


@dataclass(frozen=True, slots=True)
class Candidate[T]:
    """Something a search may return.

    ``symbols`` are every spelling that counts as the symbol (``BBCA`` and ``BBCA.JK``;
    ``BTCUSDT`` and its base ``BTC``); the first one is used for the length tie-break.
    ``bias`` breaks ties before length, for a source's own preference (IDX first, USDT first).
    """

    item: T
    symbols: Sequence[str]
    name: str = ""
    bias: int = 0
    keep_unmatched: bool = False  # the provider matched it by rules of its own (Yahoo's fuzzy search)


def match_tier(query: str, symbols: Sequence[str], name: str = "") -> int | None:
    """How well ``query`` matches: ``EXACT`` .. ``SUBSTRING``, or None for no match."""
    q_sym = squash(query)
    q_text = query.strip().lower()
    if not q_text:
        return None
    squashed = [squash(s) for s in symbols]
    if q_sym and q_sym in squashed:
        return EXACT
    if q_sym and any(s.startswith(q_sym) for s in squashed):
        return PREFIX
    lowered = name.lower()
    if lowered and re.search(r"(?:^|[^0-9a-z])" + re.escape(q_text), lowered):
        return NAME_WORD
    if (q_sym and any(q_sym in s for s in squashed)) or (lowered and q_text in lowered):
        return SUBSTRING
    return None


def rank[T](query: str, candidates: Iterable[Candidate[T]], limit: int = 10) -> list[tuple[T, float]]:
    """Best ``limit`` matches of ``query`` as ``(item, score)``; a higher score is a better match."""
    scored: list[tuple[tuple[int, int, int, int], T, int]] = []
    for order, cand in enumerate(candidates):
        tier = match_tier(query, cand.symbols, cand.name)
        if tier is None:
            if not cand.keep_unmatched:
                continue
            tier = OTHER
        first = cand.symbols[0] if cand.symbols else ""
        scored.append(((tier, cand.bias, len(first), order), cand.item, tier))
    scored.sort(key=lambda row: row[0])
    return [(item, float(OTHER - tier)) for _, item, tier in scored[: max(limit, 0)]]
