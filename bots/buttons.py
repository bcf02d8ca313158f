"""Buttons bound to the user who asked.

Platforms cap button payloads (Telegram callback_data 64 bytes, Discord custom_id 100 chars), and
a button must not let another group member run a command as its owner. So a button carries only
an opaque token; the command line and its owner live here, and pressing checks both.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import Forbidden, NotFound

if TYPE_CHECKING:
    from bots.reply import Button

TOKEN_PREFIX = "b:"
ANYONE = "*"  # owner of a button any chat member may press (it acts on the presser's own account)


@dataclass(frozen=True, slots=True)
class Bound:
    owner: str  # platform user id of the person the reply was for
    command: str
    created: float


class ButtonStore:
    def __init__(self, max_entries: int = 50_000, ttl_s: float = 48 * 3600) -> None:
        self._items: OrderedDict[str, Bound] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s

    def bind(self, owner: str, command: str) -> str:
        """A short token (<= 20 chars) that stands for ``command`` pressed by ``owner``."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(9)
        self._items[token] = Bound(owner, command, time.monotonic())
        while len(self._items) > self._max:
            self._items.popitem(last=False)
        return token

    def bind_button(self, owner: str, button: Button) -> str:
        """``bind`` for a reply's button: a public one (``/copy`` on a shared card) binds to
        ``ANYONE``, since whoever presses it acts on their own account; the rest to ``owner``."""
        return self.bind(ANYONE if button.public else owner, button.command)

    def resolve(self, token: str, presser: str) -> str:
        """The command behind ``token`` if ``presser`` may press it."""
        bound = self._items.get(token) if token.startswith(TOKEN_PREFIX) else None
        if bound is None or time.monotonic() - bound.created > self._ttl:
            raise NotFound("this button has expired: run the command again")
        if bound.owner not in (presser, ANYONE):
            raise Forbidden("this button belongs to the person who asked; run the command yourself")
        return bound.command
