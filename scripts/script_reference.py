"""Regenerate the tables of ``docs/script.md`` from the code that defines them.

The language reference is prose written by hand around tables the code owns: the built-in
series, helpers and outputs (``core/script/builtins.py``), the limits (``core/script/limits.py``)
and the indicator catalogue (``core/market/indicator_catalogue.py``, introspecting pandas-ta). Each table
sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; this script rewrites
what is between them, so a new helper or a new pandas-ta version cannot leave the reference
behind (``tests/core/script/test_docs_script.py`` fails until it is re-run).

    python scripts/script_reference.py           # rewrite docs/script.md in place
    python scripts/script_reference.py --check   # exit 1 if it is out of date
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.market import indicator_catalogue as indicators  # noqa: E402
from core.market.indicator_specs import MAX_FLOAT  # noqa: E402
from core.script import limits  # noqa: E402
from core.script.builtins import HELPERS, OUTPUTS, SERIES  # noqa: E402
from core.script.lexer import _INSTEAD, FOREIGN_WORDS, KEYWORDS  # noqa: E402
from core.strategy.rules import MAX_CONDITION, MAX_RULES  # noqa: E402

DOC = ROOT / "docs" / "script.md"

#: The indicators traders reach for first, in the order the table shows them.
COMMON = (
    "sma", "ema", "wma", "hma", "vwma", "rsi", "macd", "stoch", "stochrsi", "cci", "willr", "roc", "mom",
    "mfi", "adx", "aroon", "supertrend", "psar", "ichimoku", "bbands", "kc", "donchian", "atr", "obv", "vwap",
)  # fmt: skip

_CATEGORY_TEXT = {
    "overlap": "moving averages and other lines drawn over price",
    "momentum": "oscillators: speed and strength of moves",
    "trend": "direction and strength of a trend",
    "volatility": "ranges, bands and channels",
    "volume": "indicators that weigh price by volume",
    "statistics": "rolling statistics of one series",
    "performance": "returns",
    "cycle": "cycle filters",
    "candle": "candle transforms",
}


def _num(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else f"{value:,}" if value >= 10_000 else str(value)


def series_table() -> str:
    rows = [f"| `{name}` | {what} |" for name, what in SERIES.items()]
    return "\n".join(["| Series | Each bar's value |", "|---|---|", *rows])


def helpers_table() -> str:
    rows = [f"| `{h.usage}` | {h.description} |" for h in HELPERS.values()]
    return "\n".join(["| Helper | Gives |", "|---|---|", *rows])


def outputs_table() -> str:
    rows = [f"| `{name}` | {what} |" for name, what in OUTPUTS.items()]
    return "\n".join(["| Output | Meaning |", "|---|---|", *rows])


def limits_table() -> str:
    kb = limits.MAX_SOURCE_BYTES // 1024
    rows = [
        ("Script size", f"{kb} KB ({limits.MAX_SOURCE_BYTES:,} bytes of UTF-8)", "the whole text"),
        ("Parts", f"{limits.MAX_NODES:,}", "names, numbers, operators, calls and statements in the tree"),
        ("Nesting", f"{limits.MAX_DEPTH} levels", "parentheses, calls, look-backs `[ ]` and unary `-`/`not`"),
        ("Statements", f"{limits.MAX_STATEMENTS}", "lines that assign or call"),
        ("Plots", f"{limits.MAX_PLOTS}", "`plot(...)` lines"),
        ("Look-back", f"0 to {limits.MAX_LOOKBACK:,} bars", "`x[n]`; `highest`, `lowest`, `change` take 1 to "
         f"{limits.MAX_LOOKBACK:,}"),
        ("Indicator lengths", f"1 to {limits.MAX_INDICATOR_LENGTH:,}", "every whole-number indicator parameter"),
        ("Other indicator numbers", f"above 0, at most {int(MAX_FLOAT):,}",
         "multipliers and scales, unless the indicator bounds them more tightly"),
        ("Strings", f"{limits.MAX_STRING} characters", "any text in quotes: plot titles, input names"),
        ("Run time", f"{limits.TIME_LIMIT:g} s", "one evaluation, checked before each statement and each call"),
        ("Strategy rules", f"{MAX_RULES} rules given at once, {MAX_CONDITION} characters each", "`/rule add`"),
    ]  # fmt: skip
    return "\n".join(
        ["| Limit | Value | Counts |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    )


def categories_table() -> str:
    found = indicators.catalogue()
    by_category: dict[str, list[str]] = {}
    for name, info in found.items():
        by_category.setdefault(info.category, []).append(name)
    order = sorted(by_category, key=lambda c: (-len(by_category[c]), c))
    rows = [
        f"| {c} ({len(by_category[c])}) | {_CATEGORY_TEXT.get(c, '')} | {' '.join(by_category[c])} |"
        for c in order
    ]
    head = f"{len(found)} indicators in {len(by_category)} categories (pandas-ta's own grouping):\n\n"
    return head + "\n".join(["| Category | What | Indicators |", "|---|---|---|", *rows])


def _param(p: indicators.Param) -> str:
    return p.name if p.default is None else f"{p.name}={_num(p.default)}"  # type: ignore[arg-type]


def common_table() -> str:
    found = indicators.catalogue()
    rows = []
    for name in COMMON:
        info = found[name]
        params = ", ".join(_param(p) for p in info.params) or "none"
        fields = ", ".join(f"`.{f}`" for f in info.fields) if len(info.fields) > 1 else "one series"
        panel = "price" if info.overlay else "own"
        rows.append(
            f"| `{name}` | {info.description} | {', '.join(info.inputs)} | {params} | {fields} | {panel} |"
        )
    header = "| Name | What | Series | Numbers, in order (default) | Result | Panel |"
    return "\n".join([header, "|---|---|---|---|---|---|", *rows])


def aliases_line() -> str:
    pairs = ", ".join(f"`{alias}` → `{name}`" for alias, name in indicators.NAME_ALIASES.items())
    return f"Aliases: {pairs}."


def excluded_table() -> str:
    rows = [f"| `{name}` | {why} |" for name, why in indicators.EXCLUDED.items()]
    return "\n".join(["| Left out | Why |", "|---|---|", *rows])


def words_line() -> str:
    keywords = " ".join(f"`{w}`" for w in sorted(KEYWORDS))
    reserved = " ".join(f"`{w}`" for w in sorted(FOREIGN_WORDS, key=str.lower))
    return f"Keywords: {keywords}.\n\nReserved (refused as names, so a line of Python or JavaScript fails clearly): {reserved}."


def instead_table() -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [
        f"| {'`` ` ``' if ch == '`' else f'`{cell(ch)}`'} | {cell(why)} |" for ch, why in _INSTEAD.items()
    ]
    return "\n".join(["| Typed | Message |", "|---|---|", *rows])


BLOCKS: dict[str, Callable[[], str]] = {
    "series": series_table,
    "helpers": helpers_table,
    "outputs": outputs_table,
    "limits": limits_table,
    "categories": categories_table,
    "common": common_table,
    "aliases": aliases_line,
    "excluded": excluded_table,
    "words": words_line,
    "instead": instead_table,
}

_BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?)(<!-- /generated:\2 -->)", re.S)


def render(text: str) -> str:
    """``text`` with every generated block replaced by the code's current table."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in BLOCKS:
            raise KeyError(f"docs/script.md has an unknown generated block '{name}'")
        return f"{m.group(1)}{BLOCKS[name]()}\n{m.group(4)}"

    return _BLOCK.sub(fill, text)


def blocks_in(text: str) -> set[str]:
    return {m.group(2) for m in _BLOCK.finditer(text)}


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    fresh = render(text)
    if "--check" in argv:
        if fresh != text:
            print("docs/script.md is out of date: run python scripts/script_reference.py", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        DOC.write_text(fresh, encoding="utf-8")
        print("docs/script.md updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
