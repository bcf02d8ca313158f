"""What no log line may carry, and how it is found in time linear in the line's length.

Three kinds of rule, applied to every log line (``scrub``):

- **by command**: whatever follows ``/connect`` (a key and its secret typed in chat) up to the end
  of the quoted string it sits in (a repr or JSON payload that a chat library logs), or up to the
  end of the line when it is not quoted; and the typed values of Discord interactions (the
  options of a slash command, the fields of a modal), which arrive as ``'value': '...'``.
- **by shape**: bot tokens, exchange API keys (64 letters and digits, OKX's UUIDs), Discord
  tokens, PEM private keys, bearer tokens, passwords in URLs, interaction tokens in Discord's URLs, and
  ``api_key=...``/``secret: ...``/``'token': '...'`` pairs. These hold
  before anything is registered: the chat libraries log an update before any handler sees it.
- **by value**: exact values registered as secrets. The operator's own (bot tokens, master keys)
  are pinned for the life of the process; users' exchange keys are registered only once the
  exchange has accepted them, in a bounded set whose least recently used entries go first and
  which expire. Registering unverified input would let anyone hide any word (``Traceback``) from
  every later log line.

Registered values are found without looking at each one: each is indexed under its longest run
of key characters (its anchor); a line is cut into such runs by one regular expression and each
run is looked up in a dict, so the cost depends on the line, not on how many secrets there are.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeGuard

MASK = "***"
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words
USER_SECRETS_LIMIT = 4096  # verified user keys remembered at once (a few per active user)
USER_SECRET_TTL_S = 7 * 86400.0  # a key not used for a week is forgotten; using it registers it again

# Characters exchange keys, secrets and tokens are made of: a line is cut into runs of these.
_RUN = re.compile(r"[A-Za-z0-9_-]+")

# -- by command ---------------------------------------------------------------------------------

_CONNECT = re.compile(r"/connect(?:@\w+)?(?!\w)", re.I)
# The rest of a quoted string: escaped characters, or anything but the closing quote.
_REST_OF = {
    "'": re.compile(r"(?:\\.|[^\\'])*", re.S),
    '"': re.compile(r'(?:\\.|[^\\"])*', re.S),
}
# A Discord interaction's typed values: slash command options and modal fields (dict repr or JSON).
_TYPED_VALUE = re.compile(r"""(['"]value['"]\s*:\s*)(?:'(?:\\.|[^\\'])*'|"(?:\\.|[^\\"])*")""", re.S)

# -- by shape -----------------------------------------------------------------------------------

# A quoted value to its closing quote; a bare one to the next space (past any quote in it: a repr
# or JSON around it may end a little later than the secret, which only masks a little more).
_QUOTED_OR_BARE = r"""(?:'(?:\\.|[^\\'])*'|"(?:\\.|[^\\"])*"|\S+)"""

# Keys and tokens are long runs of these characters: only such runs are matched against their
# shapes, so an ordinary line (short words, timestamps) costs one scan.
_LONG_RUN = re.compile(r"[A-Za-z0-9_:.\-]{30,}")
# Our own personal access tokens (core.tokens): "stx_" and 43 URL-safe characters.
ACCESS_TOKEN = re.compile(r"stx_[A-Za-z0-9_-]{43}")
_TOKEN_SHAPES: tuple[re.Pattern[str], ...] = (
    ACCESS_TOKEN,
    re.compile(r"(?<![0-9])\d{6,12}:[A-Za-z0-9_-]{30,}"),  # Telegram bot token, also in /bot<token>/
    re.compile(r"\b[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}\b"),  # Discord bot token
    re.compile(r"\b[A-Za-z0-9]{64}\b"),  # Binance / Tokocrypto API key or secret
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),  # OKX API key
)
# (words one of which the lower-cased line must hold, pattern, replacement): the words let most
# lines skip the pattern; the replacement keeps the name of a ``name=value`` pair.
_GUARDED_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (
        ("private key",),
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)", re.S),
        MASK,
    ),
    (("bearer",), re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{16,}"), r"\1" + MASK),
    # the password in a URL (postgresql://user:password@host/db, redis://:password@host)
    (("://",), re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # Discord interaction and webhook tokens in the URLs its HTTP client logs (valid for 15 minutes)
    (("/interactions/", "/webhooks/"), re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9._-]+"), r"\1" + MASK),
    (
        ("key", "secret", "pass", "token"),
        re.compile(
            r"(?i)((?:api[_ -]?key|secret(?:[_ -]?key)?|passphrase|password|private[_ -]?key|token)['\"]?\s*[:=]\s*)"
            + _QUOTED_OR_BARE
        ),
        r"\1" + MASK,
    ),
)


def _mask_commands(text: str) -> str:
    """Everything after ``/connect``: to the end of its quoted string, else to the end of the text."""
    if "/connect" not in text.lower():
        return text
    parts: list[str] = []
    done = 0
    for match in _CONNECT.finditer(text):
        if match.start() < done:  # inside what an earlier match already masked
            continue
        quote = text[match.start() - 1] if match.start() > 0 else ""
        end = _REST_OF[quote].match(text, match.end()).end() if quote in _REST_OF else len(text)
        parts.append(text[done : match.end()])
        if text[match.end() : end].strip():
            parts.append(" " + MASK)
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _mask_shapes(text: str) -> str:
    lower = text.lower()  # for the guard words only: masking never adds one, so it need not be redone
    if "value" in lower:
        text = _TYPED_VALUE.sub(r"\1'" + MASK + "'", text)
    for words, pattern, replacement in _GUARDED_SHAPES:
        if any(word in lower for word in words):
            text = pattern.sub(replacement, text)
    return _LONG_RUN.sub(_mask_token_shapes, text)


def _mask_token_shapes(run: re.Match[str]) -> str:
    text = run.group()
    for pattern in _TOKEN_SHAPES:
        text = pattern.sub(MASK, text)
    return text


# -- by value -----------------------------------------------------------------------------------


def _anchor(value: str) -> str:
    """The longest run of key characters in ``value``: what a line is searched for."""
    return max(_RUN.findall(value), key=len, default="")


class SecretIndex:
    """Exact values indexed by anchor: ``spans`` finds them with one dict lookup per run of the line."""

    def __init__(self) -> None:
        self._by_anchor: dict[str, dict[str, int]] = {}  # anchor -> {value: where the anchor starts in it}

    def add(self, value: str) -> None:
        anchor = _anchor(value)
        if anchor:
            self._by_anchor.setdefault(anchor, {})[value] = value.index(anchor)

    def discard(self, value: str) -> None:
        anchor = _anchor(value)
        values = self._by_anchor.get(anchor)
        if values is not None:
            values.pop(value, None)
            if not values:
                del self._by_anchor[anchor]

    def __len__(self) -> int:
        return sum(len(values) for values in self._by_anchor.values())

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each indexed value in ``text``."""
        found: list[tuple[int, int]] = []
        if not self._by_anchor:
            return found
        lookup = self._by_anchor.get
        for run in _RUN.finditer(text):
            token, at = run.group(), run.start()
            self._check(text, at, lookup(token), found)
            if at and text[at - 1] in _ESCAPES:
                for skip in _ESCAPES[text[at - 1]]:
                    self._check(text, at + skip, lookup(token[skip:]), found)
        return found

    @staticmethod
    def _check(text: str, at: int, values: dict[str, int] | None, found: list[tuple[int, int]]) -> None:
        """Each of ``values`` (those with the anchor found at ``at``) that the text holds around it."""
        for value, offset in (values or {}).items():
            start = at - offset
            if start >= 0 and text.startswith(value, start):
                found.append((start, start + len(value)))


# Escapes a run may start with (the run's leading characters to skip): a repr or JSON writes a new
# line as \n, so "\nKEY" is one run; a URL writes "=" as %3D.
_ESCAPES: dict[str, tuple[int, ...]] = {"\\": (1, 3, 5), "%": (2,)}  # \n \t...; \xHH; \uHHHH / %HH


class SecretRegistry:
    """The values masked in every line: pinned ones (the operator's, kept) and verified user keys
    (at most ``limit``, the least recently registered dropped first, each expiring after ``ttl_s``)."""

    def __init__(
        self, limit: int = USER_SECRETS_LIMIT, ttl_s: float = USER_SECRET_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.ttl_s, self._clock = limit, ttl_s, clock
        self._pinned: set[str] = set()
        self._expiry: OrderedDict[str, float] = OrderedDict()  # user value -> when it is forgotten, oldest first
        self.index = SecretIndex()
        # Lines are logged from worker threads too: no scrub may see the set half-changed.
        self._lock = threading.Lock()

    def pin(self, value: str | None) -> None:
        if not _usable(value):
            return
        with self._lock:
            if value not in self._pinned:
                self._expiry.pop(value, None)
                self._pinned.add(value)
                self.index.add(value)

    def remember(self, value: str | None) -> None:
        """Mask a verified user secret from now on (again: its expiry starts over)."""
        if not _usable(value):
            return
        with self._lock:
            if value in self._pinned:
                return
            now = self._clock()
            self._forget_expired(now)
            if value in self._expiry:
                self._expiry.move_to_end(value)
            else:
                self.index.add(value)
            self._expiry[value] = now + self.ttl_s
            while len(self._expiry) > self.limit:
                self.index.discard(self._expiry.popitem(last=False)[0])

    def __len__(self) -> int:
        return len(self._pinned) + len(self._expiry)

    def __contains__(self, value: object) -> bool:
        return value in self._pinned or value in self._expiry

    def spans(self, text: str) -> list[tuple[int, int]]:
        with self._lock:
            self._forget_expired(self._clock())
            return self.index.spans(text)

    def _forget_expired(self, now: float) -> None:
        # Entries are kept in registration order with one TTL, so the expired ones are at the front.
        while self._expiry:
            value, expires = next(iter(self._expiry.items()))
            if expires > now:
                return
            del self._expiry[value]
            self.index.discard(value)


def _usable(value: str | None) -> TypeGuard[str]:
    return value is not None and len(value.strip()) >= MIN_SECRET_CHARS


registry = SecretRegistry()
# Values being checked right now (a key /connect is verifying): masked in the lines this task
# logs, and nowhere else, until the check ends. Not registered, so a rejected key leaves no trace.
_pending: ContextVar[tuple[SecretIndex, ...]] = ContextVar("pending_secrets", default=())


@contextmanager
def masking(values: Iterable[str | None]) -> Iterator[None]:
    """Mask ``values`` in the lines logged by this task (and tasks it starts) inside the block."""
    index = SecretIndex()
    for value in values:
        if _usable(value):
            index.add(value)
    token = _pending.set((*_pending.get(), index))
    try:
        yield
    finally:
        _pending.reset(token)


def _mask_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    parts: list[str] = []
    done = 0
    for start, end in sorted(spans):
        if end <= done:
            continue
        parts.append(text[done : max(start, done)])
        parts.append(MASK)
        done = end
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def scrub(text: str) -> str:
    """``text`` with every secret masked: by command, by shape, then registered and pending values."""
    text = _mask_shapes(_mask_commands(text))
    spans = registry.spans(text)
    for pending in _pending.get():
        spans.extend(pending.spans(text))
    return _mask_spans(text, spans)
