"""Script errors: a position, the offending line with a caret, and the nearest known name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from core.errors import Invalid


def nearest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return found[0] if found else None


class ScriptError(Invalid):
    """A problem in a user's script: ``line 3, col 8: unknown function 'emaa' — did you mean 'ema'?``"""

    def __init__(
        self,
        message: str,
        line: int = 0,
        col: int = 0,
        source: str = "",
        *,
        suggestion: str | None = None,
    ) -> None:
        self.reason = message
        self.line = line
        self.col = col
        self.suggestion = suggestion
        lines = source.splitlines() if source else []
        self.source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        head = f"line {line}, col {col}: {message}" if line else message
        if suggestion:
            head += f" — did you mean '{suggestion}'?"
        self.summary = head
        text = head
        if self.source_line:
            shown = self.source_line.encode("utf-8", "backslashreplace").decode("utf-8")
            if len(shown) > 120:
                shown = shown[:120] + "…"
            caret = " " * max(0, min(col - 1, 120)) + "^"
            self.caret = caret
            text += f"\n    {shown}\n    {caret}"
        else:
            self.caret = ""
        super().__init__(text)
