"""Tokens to tree: a recursive-descent parser with one function per precedence level.

Precedence, loosest first (all binary operators group left to right)::

    or
    and
    not x                 (so ``not a > b`` is ``not (a > b)``, as in Python)
    < <= > >= == !=       (not chainable: ``a < b < c`` is an error, write ``a < b and b < c``)
    + -
    * / %
    -x                    (unary minus binds tighter than ``*``: ``-a * b`` is ``(-a) * b``)
    x[n]  x.field  f(...)

The parser counts nesting (parentheses, calls, look-backs, unary operators) as it recurses and
stops at ``MAX_DEPTH``, so ``((((...`` a hundred thousand deep fails with a message long before
Python's recursion limit; it counts nodes and statements as it builds them for the same reason.
Chains of binary operators are loops, not recursion.
"""

from __future__ import annotations

from core.script import tree as t
from core.script.errors import ScriptError
from core.script.lexer import Token
from core.script.limits import MAX_DEPTH, MAX_NODES, MAX_STATEMENTS

_ADDITIVE = frozenset({"+", "-"})
_MULTIPLICATIVE = frozenset({"*", "/", "%"})


def _shown(tok: Token) -> str:
    if tok.kind == "newline":
        return "the end of the line"
    if tok.kind == "end":
        return "the end of the script"
    text = tok.text if len(tok.text) <= 30 else tok.text[:29] + "…"
    return f"'{text}'"


class Parser:
    """One use: ``Parser(tokens, lines).statements()`` or ``.single_expression()``."""

    def __init__(self, tokens: list[Token], lines: tuple[str, ...]) -> None:
        self.tokens = tokens
        self.lines = lines
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    # ------------------------------------------------------------------ helpers

    def error(self, reason: str, tok: Token) -> ScriptError:
        src = self.lines[tok.line - 1] if 0 < tok.line <= len(self.lines) else None
        return ScriptError(reason, line=tok.line, col=tok.col, source_line=src)

    def peek(self, ahead: int = 0) -> Token:
        at = self.pos + ahead  # the last token is "end", which advance() never passes
        return self.tokens[at] if at < len(self.tokens) else self.tokens[-1]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "end":
            self.pos += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    def at_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "keyword" and tok.text == word

    def expect_op(self, op: str, context: str) -> Token:
        tok = self.peek()
        if tok.kind == "op" and tok.text == op:
            return self.advance()
        raise self.error(f"expected '{op}' {context}, found {_shown(tok)}", tok)

    def node[N: t.Node](self, cls: type[N], tok: Token, *fields: object) -> N:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"the script is too large: more than {MAX_NODES:,} parts (names, numbers, operators)", tok)
        return cls(tok.line, tok.col, *fields)

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"nested too deeply: at most {MAX_DEPTH} levels of parentheses, calls and operators", tok
            )

    def leave(self) -> None:
        self.depth -= 1

    # ------------------------------------------------------------------ statements

    def statements(self) -> tuple[t.Statement, ...]:
        out: list[t.Statement] = []
        while self.peek().kind != "end":
            if self.peek().kind == "newline":
                self.advance()
                continue
            first = self.peek()
            if len(out) >= MAX_STATEMENTS:
                raise self.error(f"too many statements: a script may have at most {MAX_STATEMENTS}", first)
            out.append(self.statement())
            self.end_of_statement()
        return tuple(out)

    def statement(self) -> t.Statement:
        first = self.peek()
        if first.kind == "name" and self.peek(1).kind == "op" and self.peek(1).text == "=":
            self.advance()
            self.advance()
            if self.peek().kind in ("newline", "end"):
                raise self.error(f"nothing after '=': write a value for '{first.text}'", self.peek())
            value = self.expression()
            return self.node(t.Assign, first, first.text, value)
        if first.kind == "number" and self.peek(1).kind == "op" and self.peek(1).text == "=":
            raise self.error("a name must come before '=' (names start with a letter)", first)
        value = self.expression()
        if not isinstance(value, t.Call):
            raise self.error(
                "a line must assign a value (name = ...) or call a function such as plot(...)", first
            )
        return self.node(t.ExprStatement, first, value)

    def end_of_statement(self) -> None:
        tok = self.peek()
        if tok.kind in ("newline", "end"):
            self.advance()
            return
        raise self.unexpected(tok)

    def unexpected(self, tok: Token) -> ScriptError:
        if tok.kind == "op" and tok.text == "=":
            return self.error("unexpected '=': use '==' to compare", tok)
        if tok.kind == "op" and tok.text in t.COMPARISON:
            return self.error("comparisons cannot be chained: write a < b and b < c", tok)
        return self.error(f"expected the end of the line, found {_shown(tok)}", tok)

    def single_expression(self) -> t.Expr:
        """A whole text that is one expression (a strategy rule)."""
        while self.peek().kind == "newline":
            self.advance()
        first = self.peek()
        if first.kind == "end":
            raise self.error("the rule is empty: write a condition such as rsi(close, 14) < 30", first)
        if first.kind == "name" and self.peek(1).kind == "op" and self.peek(1).text == "=":
            raise self.error(
                "a rule is a condition, not an assignment: use '==' to compare", self.peek(1)
            )
        expr = self.expression()
        while self.peek().kind == "newline":
            self.advance()
        tok = self.peek()
        if tok.kind != "end":
            raise self.unexpected(tok) if tok.kind != "name" else self.error(
                "a rule is a single condition on one line; join conditions with 'and' / 'or'", tok
            )
        return expr

    # ------------------------------------------------------------------ expressions

    def expression(self) -> t.Expr:
        return self.or_expr()

    def or_expr(self) -> t.Expr:
        left = self.and_expr()
        while self.at_keyword("or"):
            tok = self.advance()
            left = self.node(t.Binary, tok, "or", left, self.and_expr())
        return left

    def and_expr(self) -> t.Expr:
        left = self.not_expr()
        while self.at_keyword("and"):
            tok = self.advance()
            left = self.node(t.Binary, tok, "and", left, self.not_expr())
        return left

    def not_expr(self) -> t.Expr:
        if self.at_keyword("not"):
            tok = self.advance()
            self.enter(tok)
            operand = self.not_expr()
            self.leave()
            return self.node(t.Unary, tok, "not", operand)
        return self.comparison()

    def comparison(self) -> t.Expr:
        left = self.additive()
        if self.at_op(*t.COMPARISON):
            tok = self.advance()
            left = self.node(t.Binary, tok, tok.text, left, self.additive())
            if self.at_op(*t.COMPARISON):
                raise self.error("comparisons cannot be chained: write a < b and b < c", self.peek())
        return left

    def additive(self) -> t.Expr:
        left = self.multiplicative()
        while self.at_op(*_ADDITIVE):
            tok = self.advance()
            left = self.node(t.Binary, tok, tok.text, left, self.multiplicative())
        return left

    def multiplicative(self) -> t.Expr:
        left = self.unary()
        while self.at_op(*_MULTIPLICATIVE):
            tok = self.advance()
            left = self.node(t.Binary, tok, tok.text, left, self.unary())
        return left

    def unary(self) -> t.Expr:
        if self.at_op("-"):
            tok = self.advance()
            self.enter(tok)
            operand = self.unary()
            self.leave()
            return self.node(t.Unary, tok, "-", operand)
        if self.at_keyword("not"):
            raise self.error("put 'not ...' in parentheses here: (not x)", self.peek())
        return self.postfix()

    def postfix(self) -> t.Expr:
        expr = self.primary()
        while True:
            if self.at_op("["):
                tok = self.advance()
                self.enter(tok)
                if self.at_op("]"):
                    raise self.error("write how many bars back inside [ ], e.g. close[1]", self.peek())
                offset = self.expression()
                self.expect_op("]", "to close the look-back")
                self.leave()
                expr = self.node(t.Index, tok, expr, offset)
            elif self.at_op("."):
                tok = self.advance()
                name = self.peek()
                if name.kind not in ("name", "keyword"):
                    raise self.error(f"expected a field name after '.', found {_shown(name)}", name)
                self.advance()
                if self.at_op("("):
                    raise self.error(
                        "methods cannot be called: only functions like sma(close, 20) can", self.peek()
                    )
                expr = self.node(t.Field, name, expr, name.text)
            elif self.at_op("("):
                raise self.error("only a function name can be called, e.g. sma(close, 20)", self.peek())
            else:
                return expr

    def primary(self) -> t.Expr:
        tok = self.peek()
        if tok.kind == "number":
            self.advance()
            return self.node(t.Number, tok, tok.value)
        if tok.kind == "string":
            self.advance()
            return self.node(t.String, tok, tok.value)
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            self.advance()
            return self.node(t.Bool, tok, tok.text == "true")
        if tok.kind == "name":
            self.advance()
            if self.at_op("("):
                return self.call(tok)
            return self.node(t.Name, tok, tok.text)
        if tok.kind == "op" and tok.text == "(":
            self.advance()
            self.enter(tok)
            if self.at_op(")"):
                raise self.error("empty parentheses: put a value inside ( )", self.peek())
            expr = self.expression()
            self.expect_op(")", "to close the parenthesis")
            self.leave()
            return expr
        if tok.kind in ("newline", "end"):
            raise self.error("the expression ends too early: a value is missing here", tok)
        if tok.kind == "op" and tok.text == "=":
            raise self.error("unexpected '=': use '==' to compare", tok)
        if tok.kind == "op" and tok.text == "+":
            raise self.error("write the number without a leading '+'", tok)
        raise self.error(f"expected a value (a number, a name or a call), found {_shown(tok)}", tok)

    def call(self, name: Token) -> t.Call:
        open_tok = self.advance()
        self.enter(open_tok)
        args: list[t.Expr] = []
        keywords: list[t.Keyword] = []
        while not self.at_op(")"):
            tok = self.peek()
            if tok.kind == "name" and self.peek(1).kind == "op" and self.peek(1).text == "=":
                self.advance()
                self.advance()
                if any(k.name == tok.text for k in keywords):
                    raise self.error(f"'{tok.text}' is given twice", tok)
                keywords.append(self.node(t.Keyword, tok, tok.text, self.expression()))
            else:
                if keywords:
                    raise self.error(
                        "put plain arguments before name=value arguments", tok
                    )
                args.append(self.expression())
            if self.at_op(","):
                self.advance()
            elif not self.at_op(")"):
                bad = self.peek()
                if bad.kind == "op" and bad.text == "=":
                    raise self.error("unexpected '=': use '==' to compare", bad)
                raise self.error(f"expected ',' or ')' in the call to {name.text}, found {_shown(bad)}", bad)
        self.advance()
        self.leave()
        return self.node(t.Call, name, name.text, tuple(args), tuple(keywords))
