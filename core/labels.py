"""Names users give their models and strategies: typed in chat, so one word, case-insensitive."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from core.errors import Invalid

MAX_LABEL = 64
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_label(text: str, what: str = "name") -> str:
    """The label as given (trimmed), or Invalid naming the rule it breaks."""
    label = (text or "").strip()
    if not label:
        raise Invalid(f"a {what} is needed", hint="letters, digits, _ . - ; up to 64 characters, e.g. ema_cross")
    if not _LABEL.match(label):
        raise Invalid(
            f"'{label[:70]}' is not a valid {what}",
            hint="use letters, digits, _ . - (no spaces), up to 64 characters, starting with a letter or digit",
        )
    return label


def label_key(label: str) -> str:
    return label.strip().lower()


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the closest known label, or an empty string."""
    by_key = {k.lower(): k for k in known}
    match = difflib.get_close_matches(word.lower(), list(by_key), n=1, cutoff=0.6)
    return f" — did you mean '{by_key[match[0]]}'?" if match else ""
