"""Text from outside (chat platforms, users) made fit to store and to send back.

Chat payloads are JSON, whose escapes can carry a lone surrogate ("\\ud800") that UTF-8 cannot
encode, and a NUL ("\\u0000") that PostgreSQL refuses in text: either fails in the database
driver, far from where the text came in.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def mend_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD; a pair sent as two escapes becomes the
    character it encodes."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def storable_name(text: str) -> str:
    """A name a platform reports (a user's, a chat's), fit to store: NUL dropped (there is nobody
    to refuse it to: it is no one's typing), surrogates mended."""
    return mend_surrogates(text.replace("\x00", ""))
