"""Names users give their models and strategies: typed in chat, so one word, case-insensitive."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable

from core.errors import Invalid

MAX_LABEL = 64
_LABEL = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.\-]{{0,{MAX_LABEL - 1}}}$")


def check_label(text: str, what: str = "name") -> str:
    """The label as given (trimmed), or Invalid naming the rule it breaks."""
    label = (text or "").strip()
    if not label:
        raise Invalid(f"a {what} is needed", hint=f"letters, digits, _ . - ; up to {MAX_LABEL} characters, e.g. ema_cross")
    if not _LABEL.match(label):
        raise Invalid(
            f"'{label[:70]}' is not a valid {what}",
            hint=f"use letters, digits, _ . - (no spaces), up to {MAX_LABEL} characters, starting with a letter or digit",
        )
    return label


def label_key(label: str) -> str:
    return label.strip().lower()


def did_you_mean(
    word: str,
    known: Iterable[str],
    *,
    case_sensitive: bool = False,
    rename: Callable[[str], str] | None = None,
) -> str:
    """`` — did you mean 'x'?`` for the closest known name, or an empty string: the one helper
    behind every "did you mean" (labels, metrics, script names, indicators).

    Labels compare without case; ``case_sensitive`` names (script identifiers, indicators) are
    matched as typed first, then without case. ``rename`` maps the match to what to suggest
    (an indicator alias to its canonical name)."""
    choices = [k for k in dict.fromkeys(known) if k != word]
    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.6) if case_sensitive else []
    if not near:
        by_key = {k.lower(): k for k in choices}
        lowered = difflib.get_close_matches(word.lower(), list(by_key), n=1, cutoff=0.6)
        near = [by_key[lowered[0]]] if lowered else []
    if not near:
        return ""
    return f" — did you mean '{rename(near[0]) if rename else near[0]}'?"
