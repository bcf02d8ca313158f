"""Source text to tokens, by hand: the only place characters are looked at.

Names are plain ASCII words so a Cyrillic ``с`` in ``сlose`` is an error, not a different name.
Numbers must be finite. Strings are single- or double-quoted, without escapes (a backslash is
just a character inside a string and an error outside one). ``#`` and ``//`` start comments.
A line break ends a statement unless a ``(`` or ``[`` is still open, so long calls may be
wrapped. Characters people paste from phones and other languages (``“”``, ``≤``, ``&&``, ``**``)
get an error that says what to write instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Literal, NamedTuple

from core.script.errors import ScriptError, describe_char
from core.script.limits import MAX_STRING

Kind = Literal["name", "keyword", "number", "string", "op", "newline", "end"]

KEYWORDS = frozenset({"true", "false", "and", "or", "not"})

# Words of other languages that are not part of this one: a clear refusal beats "unknown name".
FOREIGN_WORDS = frozenset(
    {
        "import", "from", "lambda", "def", "class", "return", "if", "else", "elif", "for", "while",
        "with", "as", "try", "except", "finally", "raise", "global", "nonlocal", "del", "pass",
        "yield", "await", "async", "assert", "is", "in", "var", "let", "const", "function",
        "None", "null", "break", "continue",
    }
)  # fmt: skip

_STRING_PREFIXES = frozenset({"f", "r", "b", "u", "rb", "br", "fr", "rf"})

_OPERATORS = ("<=", ">=", "==", "!=", "(", ")", "[", "]", ",", ".", "=", "+", "-", "*", "/", "%", "<", ">")

_INSTEAD: dict[str, str] = {
    "**": "there is no power operator '**'; multiply instead (x * x)",
    "&&": "write 'and' instead of '&&'",
    "||": "write 'or' instead of '||'",
    "&": "write 'and' instead of '&'",
    "|": "write 'or' instead of '|'",
    "!": "write 'not' instead of '!'",
    ";": "one statement a line: put each on its own line instead of using ';'",
    ":": "':' is not part of the language; call indicators with commas: rsi(close, 14)",
    "\\": "a backslash is not part of the language; a statement continues on the next line "
    "only inside open parentheses",
    "{": "'{' is not part of the language",
    "}": "'}' is not part of the language",
    "^": "there is no power operator '^'; multiply instead (x * x)",
    "~": "write 'not' instead of '~'",
    "?": "write iff(cond, a, b) instead of '?'",
    "@": "'@' is not part of the language",
    "$": "'$' is not part of the language",
    "`": "use ' or \" for strings",
    "“": "use straight quotes \" instead of “ ”",
    "”": "use straight quotes \" instead of “ ”",
    "‘": "use straight quotes ' instead of ‘ ’",
    "’": "use straight quotes ' instead of ‘ ’",
    "≤": "write '<=' instead of '≤'",
    "≥": "write '>=' instead of '≥'",
    "≠": "write '!=' instead of '≠'",
    "−": "write '-' (a plain minus) instead of '−'",
    "×": "write '*' instead of '×'",
    "÷": "write '/' instead of '÷'",
}


class Token(NamedTuple):
    """A tuple, not a frozen dataclass: a script has dozens of tokens, and a deployment tick parses
    thousands of scripts (a frozen dataclass's ``__init__`` costs several times a tuple's)."""

    kind: Kind
    text: str
    line: int
    col: int
    value: int | float | str | None = None


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def tokenize(source: str, lines: tuple[str, ...]) -> list[Token]:
    """All tokens of ``source``; ``lines`` (the source split on ``\\n``) are for error display."""
    tokens: list[Token] = []
    brackets: list[Token] = []  # open ( and [ : a newline inside them continues the statement
    i, n = 0, len(source)
    line, line_start = 1, 0

    def fail(reason: str, at: int, at_line: int | None = None, at_col: int | None = None) -> ScriptError:
        ln = at_line if at_line is not None else line
        col = at_col if at_col is not None else at - line_start + 1
        return ScriptError(reason, line=ln, col=col, source_line=lines[ln - 1] if ln <= len(lines) else None)

    def add(kind: Kind, text: str, start: int, value: int | float | str | None = None) -> None:
        tokens.append(Token(kind, text, line, start - line_start + 1, value))

    while i < n:
        ch = source[i]
        if ch == "\n":
            if not brackets and tokens and tokens[-1].kind != "newline":
                add("newline", "\\n", i)
            i += 1
            line, line_start = line + 1, i
            continue
        if ch == "#" or source.startswith("//", i):
            while i < n and source[i] != "\n":
                i += 1
            continue
        if ch.isspace() or ch == "\ufeff":
            i += 1
            continue
        start = i
        if _is_name_start(ch):
            while i < n and _is_name_char(source[i]):
                i += 1
            word = source[start:i]
            if i < n and source[i] in "'\"" and word.lower() in _STRING_PREFIXES:
                raise fail(f"string prefixes like {word}\"...\" are not supported", start)
            if i < n and not source[i].isascii() and source[i].isalnum():
                raise fail(
                    f"unexpected character {describe_char(source[i])} in a name: "
                    "names use plain letters a-z, digits and _",
                    i,
                )
            if word in FOREIGN_WORDS:
                raise fail(f"'{word}' is not part of the script language", start)
            add("keyword" if word in KEYWORDS else "name", word, start, word)
            continue
        if _is_digit(ch) or (ch == "." and i + 1 < n and _is_digit(source[i + 1])):
            i = _number_end(source, i)
            text = source[start:i]
            add("number", text, start, _number_value(text, partial(fail, at=start)))
            if i < n and _is_name_start(source[i]):
                raise fail(f"a number cannot run into a name: '{text}{source[i]}'", i)
            continue
        if ch in "'\"":
            end = source.find(ch, i + 1)
            newline = source.find("\n", i + 1)
            if end == -1 or (newline != -1 and newline < end):
                raise fail("this string is never closed: add the closing quote on the same line", start)
            text = source[i + 1 : end]
            if len(text) > MAX_STRING:
                raise fail(f"a string may be at most {MAX_STRING} characters, this one has {len(text)}", start)
            i = end + 1
            add("string", source[start:i], start, text)
            continue
        two = source[i : i + 2]
        if two in _INSTEAD:
            raise fail(_INSTEAD[two], start)
        op = two if two in _OPERATORS else (ch if ch in _OPERATORS else None)
        if op is None:
            if ch in _INSTEAD:
                raise fail(_INSTEAD[ch], start)
            if ch == "\x00":
                raise fail("the script contains a NUL character", start)
            if not ch.isascii() and ch.isalpha():
                raise fail(
                    f"unexpected character {describe_char(ch)}: names use plain letters a-z, digits and _",
                    start,
                )
            raise fail(f"unexpected character {describe_char(ch)}", start)
        i += len(op)
        add("op", op, start)
        if op in "([":
            brackets.append(tokens[-1])
        elif op in ")]":
            want = "(" if op == ")" else "["
            if not brackets:
                raise fail(f"'{op}' has no matching '{want}'", start)
            opened = brackets.pop()
            if opened.text != want:
                raise fail(
                    f"'{op}' does not match the '{opened.text}' opened at line {opened.line}, col {opened.col}",
                    start,
                )
    if brackets:
        opened = brackets[-1]
        close = ")" if opened.text == "(" else "]"
        raise fail(f"this '{opened.text}' is never closed: add '{close}'", 0, opened.line, opened.col)
    if tokens and tokens[-1].kind != "newline":
        add("newline", "\\n", n)
    tokens.append(Token("end", "", line, n - line_start + 1))
    return tokens


def _number_end(source: str, i: int) -> int:
    n = len(source)
    while i < n and _is_digit(source[i]):
        i += 1
    if i < n and source[i] == "." and not (i + 1 < n and _is_name_start(source[i + 1])):
        i += 1
        while i < n and _is_digit(source[i]):
            i += 1
    if i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and _is_digit(source[j]):
            i = j
            while i < n and _is_digit(source[i]):
                i += 1
    return i


def _number_value(text: str, fail: Callable[[str], ScriptError]) -> int | float:
    """int for plain whole numbers (so ``sma(close, 20)`` gets a length), float otherwise; finite only."""
    if all(_is_digit(c) for c in text) and len(text) <= 15:
        return int(text)
    value = float(text)  # the text is digits, '.', 'e' and a sign: always a valid float literal
    if not math.isfinite(value):
        raise fail(f"the number {text[:20]}{'…' if len(text) > 20 else ''} is too large")
    return value
