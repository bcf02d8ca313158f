"""``ScriptError``: every problem with a model script, located and fit to show a user as it is.

A script is typed in chat, so an error must say *where* (line, column, the line itself with a
caret under the spot) and, for a misspelt name, *what was probably meant*. Anything that is not a
``ScriptError`` escaping from this package is a bug.
"""

from __future__ import annotations

import unicodedata

from core.errors import Invalid, TooLong

_WINDOW = 80  # longest piece of a source line shown under a message


class ScriptError(Invalid):
    """A script problem. ``line``/``col`` are 1-based (None when the problem has no place)."""

    def __init__(
        self,
        reason: str,
        *,
        line: int | None = None,
        col: int | None = None,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.line = line
        self.col = col
        self.source_line = source_line
        super().__init__(_format(reason, line, col, source_line), hint=hint)


def _format(reason: str, line: int | None, col: int | None, source_line: str | None) -> str:
    if line is None:
        return reason
    where = f"line {line}, col {col}: " if col is not None else f"line {line}: "
    text = where + reason
    if source_line is None:
        return text
    shown, caret_at = _window(_printable(source_line), (col or 1) - 1)
    text += "\n  " + shown
    if col is not None:
        text += "\n  " + " " * caret_at + "^"
    return text


def _printable(line: str) -> str:
    """One display character per source character, so the caret stays under the right one."""
    return "".join(" " if ch == "\t" else (ch if ch.isprintable() else "\ufffd") for ch in line.rstrip("\r"))


def _window(line: str, index: int) -> tuple[str, int]:
    """A long line is cut to ``_WINDOW`` characters around ``index``; returns (text, caret index)."""
    if len(line) <= _WINDOW:
        return line, index
    start = max(0, min(index - _WINDOW // 2, len(line) - _WINDOW))
    piece = line[start : start + _WINDOW]
    caret = index - start
    if start > 0:
        piece = "…" + piece[1:]
    if start + _WINDOW < len(line):
        piece = piece[:-1] + "…"
    return piece, caret


def describe_char(ch: str) -> str:
    """``'с' (U+0441 CYRILLIC SMALL LETTER ES)``: homoglyphs and invisible characters made visible."""
    name = unicodedata.name(ch, "")
    shown = ch if ch.isprintable() and not ch.isspace() else ""
    code = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
    return f"'{shown}' ({code})" if shown else f"({code})"


class ScriptTimeout(ScriptError, TooLong):
    """The script ran past its time limit (checked between statements and calls)."""
