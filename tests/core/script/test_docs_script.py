"""docs/script.md, the language reference, cannot fall behind the code.

Every ```script block runs on sample candles (with the ``name=value`` overrides written after
``script``), every ```rule block is a strategy rule that evaluates, every ```script-error block
fails with exactly the message of the ```text block after it; every built-in name of the code's
tables is documented, and the generated tables are what ``scripts/script_reference.py`` makes now.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from core.script import (
    REFERENCE,
    ScriptError,
    evaluate,
    evaluate_condition_warmup,
    parse,
    parse_condition,
)
from core.script.builtins import HELPERS, OUTPUTS, SERIES
from core.script.lexer import FOREIGN_WORDS, KEYWORDS
from tests.sample_bars import sample_bars

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / REFERENCE
TEXT = DOC.read_text(encoding="utf-8")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.S | re.M)
BLOCKS = [(m.group(1).strip(), m.group(2), TEXT[: m.start()].count("\n") + 1) for m in _FENCE.finditer(TEXT)]


def _blocks(kind: str) -> list[tuple[str, str, int]]:
    return [(info, body, line) for info, body, line in BLOCKS if info.split(" ")[0] == kind]


def _overrides(info: str) -> dict[str, object]:
    """``script fast=8 filter=false`` -> {"fast": 8, "filter": False}, as chat commands type them."""
    out: dict[str, object] = {}
    for word in info.split()[1:]:
        name, _, raw = word.partition("=")
        if raw in ("true", "false"):
            out[name] = raw == "true"
        else:
            number = float(raw)
            out[name] = int(number) if number.is_integer() and "." not in raw else number
    return out


def _ids(blocks: list[tuple[str, str, int]]) -> list[str]:
    return [f"line {line}" for _, _, line in blocks]


def test_the_reference_has_examples_of_each_kind():
    assert len(_blocks("script")) >= 10
    assert _blocks("rule") and _blocks("script-error")
    unknown = {info.split(" ")[0] for info, _, _ in BLOCKS} - {"script", "rule", "script-error", "text"}
    assert unknown == set(), "a code block with an unknown tag is not tested"


@pytest.mark.parametrize(("info", "body", "line"), _blocks("script"), ids=_ids(_blocks("script")))
def test_every_script_example_parses_and_runs(info, body, line):
    frame = sample_bars("BBCA", "1d")
    program = parse(body)
    result = evaluate(program, frame)
    assert result.plots or not result.is_indicator, f"the example at line {line} neither plots nor trades"
    for plot in result.plots:
        assert len(plot.values) == len(frame) and np.isfinite(plot.values).any()
    overrides = _overrides(info)
    if overrides:
        again = evaluate(program, frame, overrides)
        assert {k: again.inputs[k] for k in overrides} == overrides


def test_the_trading_examples_trade_on_sample_data():
    frame = sample_bars("BBCA", "1d")
    for _, body, line in _blocks("script"):
        result = evaluate(parse(body), frame)
        if result.buy is not None:
            assert result.buy[result.warmup :].any(), f"the example at line {line} never buys"


@pytest.mark.parametrize(("info", "body", "line"), _blocks("rule"), ids=_ids(_blocks("rule")))
def test_every_rule_example_is_a_valid_strategy_rule(info, body, line):
    holds, _ = evaluate_condition_warmup(parse_condition(body.strip()), sample_bars("BBCA", "1d"))
    assert holds.dtype == bool and holds.any()


def test_every_error_example_gives_the_message_shown():
    pairs = []
    for i, (info, body, line) in enumerate(BLOCKS):
        if info == "script-error":
            shown_info, shown, _ = BLOCKS[i + 1]
            assert shown_info == "text", f"the error example at line {line} needs a ```text block after it"
            pairs.append((body, shown.rstrip("\n")))
    assert pairs
    for body, shown in pairs:
        with pytest.raises(ScriptError) as caught:
            evaluate(parse(body), sample_bars("BBCA", "1d"))
        assert str(caught.value) == shown


def test_every_built_in_name_is_documented():
    names = [*SERIES, *HELPERS, *OUTPUTS, *KEYWORDS, *FOREIGN_WORDS]
    missing = [name for name in names if f"`{name}" not in TEXT]
    assert missing == []
    for name in HELPERS:  # each helper also has a line of prose, not only its table row
        assert len(re.findall(rf"`{name}\(", TEXT)) >= 2, name


def _generator():
    spec = importlib.util.spec_from_file_location(
        "script_reference", ROOT / "scripts" / "script_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_tables_are_current():
    generator = _generator()
    assert generator.blocks_in(TEXT) == set(generator.BLOCKS)
    assert generator.render(TEXT) == TEXT, "run: python scripts/script_reference.py"


def test_nothing_points_at_the_language_file_outside_the_repository():
    outside = ("/work/" + "shared", "../" + "shared/")
    files = [*ROOT.glob("*.md"), *ROOT.glob("*.toml")]
    for folder in ("core", "bots", "jobs", "tests", "scripts", "bench", "docs"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md") and p.is_file()]
    offenders = [
        str(path.relative_to(ROOT))
        for path in files
        if any(word in path.read_text(encoding="utf-8", errors="replace") for word in outside)
    ]
    assert offenders == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"]({REFERENCE})" in readme
