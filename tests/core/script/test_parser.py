"""Lexing and parsing: every syntax form, precedence and the shape of the tree."""

from __future__ import annotations

import pytest

from core.script import ScriptError, parse, parse_condition
from core.script import tree as t


def expr(text: str) -> t.Expr:
    """The tree of one expression (as a rule, so bare names must be built-ins)."""
    return parse_condition(text).expr


def shape(node: t.Expr) -> str:
    """A fully parenthesised rendering, to assert grouping."""
    if isinstance(node, t.Number | t.Bool):
        return str(node.value).lower() if isinstance(node, t.Bool) else repr(node.value)
    if isinstance(node, t.String):
        return repr(node.value)
    if isinstance(node, t.Name):
        return node.id
    if isinstance(node, t.Unary):
        return f"({node.op} {shape(node.operand)})"
    if isinstance(node, t.Binary):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, t.Index):
        return f"{shape(node.target)}[{shape(node.offset)}]"
    if isinstance(node, t.Field):
        return f"{shape(node.target)}.{node.name}"
    if isinstance(node, t.Call):
        parts = [shape(a) for a in node.args] + [f"{k.name}={shape(k.value)}" for k in node.keywords]
        return f"{node.func}({', '.join(parts)})"
    raise AssertionError(node)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("close + open * high", "(close + (open * high))"),
        ("close - open - high", "((close - open) - high)"),
        ("close / open % high", "((close / open) % high)"),
        ("-close * open", "((- close) * open)"),
        ("- -close", "(- (- close))"),
        ("-close[1]", "(- close[1])"),
        ("close > open and high > low", "((close > open) and (high > low))"),
        ("close > open or high > low and low > open", "((close > open) or ((high > low) and (low > open)))"),
        ("not close > open", "(not (close > open))"),
        ("not close > open and true", "((not (close > open)) and true)"),
        ("not not true", "(not (not true))"),
        ("(close + open) * 2", "((close + open) * 2)"),
        ("close >= open == true", None),
        ("close[1] <= open[2]", "(close[1] <= open[2])"),
        ("macd(close).signal > 0", "(macd(close).signal > 0)"),
        ("macd(close, fast=5, slow=20).hist[1] != 0", "(macd(close, fast=5, slow=20).hist[1] != 0)"),
        ("close < 1.5e2", "(close < 150.0)"),
        ("close < .5", "(close < 0.5)"),
        ("close == 3", "(close == 3)"),
        ("true or false", "(true or false)"),
    ],
)
def test_precedence_and_grouping(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ScriptError, match="cannot be chained"):
            expr(text)
    else:
        assert shape(expr(text)) == expected


def test_statements_assignments_calls_and_comments() -> None:
    program = parse(
        "# a comment\n"
        "fast = ema(close, 12)  // another comment\n"
        "\n"
        "plot(fast, \"EMA\")\n"
        "plot(fast, title='EMA again')\n"
        "buy = close > fast\n"
    )
    kinds = [type(s).__name__ for s in program.statements]
    assert kinds == ["Assign", "ExprStatement", "ExprStatement", "Assign"]
    assign = program.statements[0]
    assert isinstance(assign, t.Assign)
    assert assign.target == "fast"
    assert (assign.line, assign.col) == (2, 1)
    assert shape(assign.value) == "ema(close, 12)"
    plot = program.statements[2]
    assert isinstance(plot, t.ExprStatement)
    assert shape(plot.value) == "plot(fast, title='EMA again')"
    assert program.plot_count == 2
    assert program.outputs == {"buy"}


def test_numbers_keep_whole_numbers_whole() -> None:
    assert isinstance(expr("close > 20").right.value, int)  # type: ignore[union-attr]
    assert isinstance(expr("close > 20.0").right.value, float)  # type: ignore[union-attr]
    assert isinstance(expr("close > 2e1").right.value, float)  # type: ignore[union-attr]


def test_positions_are_one_based_line_and_column() -> None:
    node = expr("close  >  open")
    assert isinstance(node, t.Binary)
    assert (node.line, node.col) == (1, 8)
    assert (node.left.line, node.left.col) == (1, 1)
    assert (node.right.line, node.right.col) == (1, 11)


def test_expression_continues_inside_open_parentheses() -> None:
    program = parse("x = sma(\n    close,\n    20\n)\ny = (x +\n  1)\n")
    assert len(program.statements) == 2
    assert shape(program.statements[1].value) == "(x + 1)"  # type: ignore[union-attr]


def test_newline_outside_parentheses_ends_the_statement() -> None:
    with pytest.raises(ScriptError, match="ends too early"):
        parse("x = close +\n  1")


def test_crlf_tabs_bom_and_non_breaking_spaces_are_whitespace() -> None:
    program = parse("\ufeffx = close\r\n\ty\u00a0=\u00a0x + 1\r\n")
    assert [s.target for s in program.statements] == ["x", "y"]  # type: ignore[union-attr]


def test_strings_single_and_double_quoted() -> None:
    program = parse("plot(close, 'a \"quoted\" title')\nplot(open, \"it's\")")
    titles = [s.value.args[1].value for s in program.statements]  # type: ignore[union-attr]
    assert titles == ['a "quoted" title', "it's"]


def test_trailing_comma_in_call_is_accepted() -> None:
    assert shape(expr("sma(close, 20,) > 0")) == "(sma(close, 20) > 0)"


def test_inputs_are_declared_in_order_with_defaults() -> None:
    program = parse(
        'a = sma(close, input("len", 20))\n'
        'b = close * input("k", 1.5)\n'
        'c = input("on", true) and close > a\n'
        'd = close - input("off", -2)\n'
        'e = sma(close, input("len", 20))\n'
    )
    assert program.inputs == {"len": 20, "k": 1.5, "on": True, "off": -2}
    assert isinstance(program.inputs["len"], int)


def test_outputs_and_indicator_flag() -> None:
    assert parse("plot(sma(close, 5))").is_indicator
    strat = parse("buy = close > open\nsell = close < open\nstop_loss = 0.05")
    assert not strat.is_indicator
    assert strat.outputs == {"buy", "sell", "stop_loss"}
    assert not parse("short = close < open").is_indicator


def test_keywords_of_other_languages_are_refused_by_name() -> None:
    with pytest.raises(ScriptError, match="'import' is not part of the script language"):
        parse("import os")
