"""The command registry shared by every transport.

A command is declared once: its name, its arguments (with types and help), the coroutine that
calls the core, and how it renders into a ``Message``. Telegram, Discord and the console only
translate between their library and this registry, so a command added here appears on all of
them. Argument parsing for text transports lives here too, so the usage a user sees on a
mistake is the same everywhere, and so does who may run what where (``Registry.refusal``):
transports only find out the facts it needs (is this a group, does the user administer it).
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.db.base import ID_MAX
from core.errors import EXCERPT_CHARS, Invalid, StoxlifyError, excerpt
from core.logging import get_logger
from core.message import Message, new_ref
from core.state.ratelimit import RateLimiter
from core.text import mend_surrogates

if TYPE_CHECKING:
    from core.actor import Actor
    from core.app import Core

log = get_logger(__name__)


class ArgKind(StrEnum):
    TEXT = "text"
    TICKER = "ticker"
    INTERVAL = "interval"
    RANGE = "range"
    INT = "int"
    CHOICE = "choice"
    INDICATOR = "indicator"
    REST = "rest"  # the rest of the line, verbatim (messages, scripts)


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument. An optional positional is taken only when the token ``matches``."""

    name: str
    help: str
    kind: ArgKind = ArgKind.TEXT
    required: bool = True
    many: bool = False  # takes every remaining token
    choices: tuple[str, ...] = ()
    matches: Callable[[str], bool] | None = None
    default: Any = None
    # When missing and this returns True for the other raw values, transports with forms ask for
    # it in one (a Discord modal for a model's multi-line script, which a slash option cannot hold).
    ask: Callable[[dict[str, Any]], bool] | None = None
    suggest: str | None = None  # names the user owns to offer (bots.commands.suggest.KINDS)

    @property
    def metavar(self) -> str:
        word = "|".join(self.choices) if self.kind is ArgKind.CHOICE and self.choices else self.name.upper()
        if self.many:
            word += "..."
        return word if self.required else f"[{word}]"


Handler = Callable[..., Awaitable[Message]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str
    handler: Handler
    args: tuple[Arg, ...] = ()
    group: str = "General"
    examples: tuple[str, ...] = ()
    expensive: bool = False  # slow work (charts, backtests): transports show progress and rate-limit
    private_only: bool = False  # touches secrets or private data: refused in groups
    admin_only: bool = False  # changes a group's settings: in groups, only its admins
    confirmable: bool = False  # destructive: the handler takes ``confirmed`` (a trailing ``--yes``)
    # reads a file sent with it (ctx.extras "attached_text" / "attached_file"): transports without
    # replies to files (Discord) offer an attachment option, and a file upload in the form that asks
    reads_file: bool = False
    # the Stoxlify Core API operations (the specification's summaries) this command performs in chat; the same
    # names the HTTP routes carry, so tests/test_parity.py can check that chat and HTTP cover the same operations
    operations: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return " ".join([f"/{self.name}", *(a.metavar for a in self.args)])

    @property
    def for_bot_admins(self) -> bool:
        """The bot's own administrators' commands (``ADMIN_IDS``: plans, discount codes, refunds), not
        a group's admins' (``admin_only``): the handler checks; menus show it to them alone."""
        return self.group == ADMIN_GROUP


class UsageError(StoxlifyError):
    """The command line does not fit the command's arguments."""


@dataclass(slots=True)
class Context:
    """Everything a handler needs: the core services and who is asking."""

    core: Core
    actor: Actor
    transport: str = "console"
    extras: dict[str, Any] = field(default_factory=dict)


def split_words(text: str) -> list[str]:
    """Shell-like split that tolerates a stray quote instead of failing."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


ADMIN_GROUP = "Admin"  # the help group of the bot administrators' commands
GROUP_ORDER = (
    "General", "Market", "Monitoring", "Models", "Strategies", "Sharing", "Deployments", "Trading", "Brokers",
    "Plans", "Account", ADMIN_GROUP,
)


class Registry:
    def __init__(self, rate_limiter: RateLimiter | None = None) -> None:
        self._commands: dict[str, Command] = {}
        self.rate_limiter = rate_limiter or RateLimiter()

    def bound(self, rate_limiter: RateLimiter) -> Registry:
        """The same commands, counted against ``rate_limiter``: one registry per application, while the
        declarations (this one, filled as the command modules are imported) stay as declared."""
        copy = Registry(rate_limiter)
        copy._commands = dict(self._commands)
        return copy

    def command(
        self,
        name: str,
        summary: str,
        *args: Arg,
        group: str = "General",
        examples: Sequence[str] = (),
        expensive: bool = False,
        private_only: bool = False,
        admin_only: bool = False,
        confirmable: bool = False,
        reads_file: bool = False,
        operations: Sequence[str] = (),
    ) -> Callable[[Handler], Handler]:
        """Declare a command; the decorated coroutine takes ``(ctx, **args)`` and returns a Message."""

        def register(handler: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command /{name} declared twice")
            self._commands[name] = Command(
                name, summary, handler, tuple(args), group, tuple(examples), expensive, private_only, admin_only,
                confirmable, reads_file, tuple(operations),
            )
            return handler

        return register

    def __iter__(self):
        return iter(self._commands.values())

    def __contains__(self, name: str) -> bool:
        return name in self._commands

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    # -- text transports -------------------------------------------------------------------

    def parse(self, line: str) -> tuple[Command, dict[str, Any]]:
        """Split ``/name args...`` into a command and its keyword arguments.

        Every transport's command line (typed, or stored behind a button) enters here: it is
        normalised once by ``clean_text``'s rules (lone surrogates mended, NUL refused) before any
        word of it reaches a handler, a reply or a database.
        """
        line = mend_surrogates(line)
        has_nul = "\x00" in line
        command, rest = self._find(line.replace("\x00", "") if has_nul else line)
        if has_nul:  # refused after finding the command, so the reply carries its usage
            raise UsageError(NUL_REFUSED, hint=command.usage)
        confirmed = False
        if command.confirmable:
            # Confirmation buttons re-send the command with --yes; typing it works the same.
            stripped = rest.rstrip()
            if stripped == "--yes" or stripped.endswith(" --yes"):
                rest, confirmed = stripped[: -len("--yes")], True
        try:
            kwargs = bind_args(command, rest)
        except UsageError as exc:
            raise UsageError(exc.message, hint=command.usage) from None
        if command.confirmable:
            kwargs["confirmed"] = confirmed
        return command, kwargs

    def _find(self, line: str) -> tuple[Command, str]:
        head, _, rest = line.strip().partition(" ")
        if not head.startswith("/") or len(head) < 2:
            raise UsageError("commands start with '/': try /help")
        name = head[1:].split("@", 1)[0].lower()  # Telegram groups send /market@StoxlifyBot
        command = self._commands.get(name)
        if command is None:
            raise UsageError(f"unknown command /{excerpt(name)}: see /help")
        return command, rest

    async def dispatch(self, ctx: Context, line: str) -> Message:
        try:
            command, kwargs = self.parse(line)
        except UsageError as exc:
            return Message.fail(exc.message, exc.hint)
        return await self.invoke(ctx, command, kwargs)

    # -- who may run what, where: every transport asks here ------------------------------------

    @staticmethod
    def needs_admin_check(command: Command, in_group: bool) -> bool:
        """Whether a transport must find out if the user administers the chat (``Actor.is_admin``)
        before asking ``refusal``: only admin-only commands in groups depend on it, and the lookup
        may cost a request (Telegram's getChatMember)."""
        return command.admin_only and in_group

    @staticmethod
    def refusal(command: Command, actor: Actor) -> Message | None:
        """Why ``actor`` may not run ``command`` where they are, or None when they may.

        Private-only commands touch secrets or private data: never in a group. Admin-only ones
        change a group's settings: in a group, only its admins.
        """
        if command.private_only and actor.is_group:
            return Message.fail(f"/{command.name} works only in a private chat with the bot: it touches private data.")
        if command.admin_only and actor.is_group and not actor.is_admin:
            return Message.fail(f"only this group's admins can use /{command.name}.")
        return None

    async def invoke(self, ctx: Context, command: Command, kwargs: dict[str, Any]) -> Message:
        """Run a command, turning every failure into a short reply.

        ``kwargs`` from ``parse`` are clean already; values from forms (Discord's slash options and
        modals) arrive here without a command line, so they are normalised here the same way.
        """
        try:
            kwargs = clean_values(kwargs)
        except UsageError as exc:
            return Message.fail(exc.message, command.usage)
        refused = self.refusal(command, ctx.actor)
        if refused is not None:
            return refused
        if command.expensive:
            wait = await self.rate_limiter.retry_after(ctx.actor.user_id)
            if wait > 0:
                return Message.fail(
                    f"You're going fast: please wait {math.ceil(wait)} s before the next chart or backtest."
                )
        return await self._run(ctx, command, kwargs)

    async def _run(self, ctx: Context, command: Command, kwargs: dict[str, Any]) -> Message:
        """The handler's reply, every failure a short one. Failures quote names and values freely
        ("you have no model 'x'"): ``brief`` cuts what repeats the user's input to an excerpt, in
        the message only (hints and usages are ours, and may well repeat a correct input)."""

        def brief(message: str) -> str:
            return shorten_quotes(message, kwargs)

        try:
            reply = await command.handler(ctx, **kwargs)
        except UsageError as exc:
            return Message.fail(brief(exc.message), command.usage)
        except StoxlifyError as exc:
            message = brief(exc.message) if exc.hint is None else f"{brief(exc.message)}\n{exc.hint}"
            return Message.fail(message, command.usage if _wants_usage(exc) else None)
        except Exception:
            ref = new_ref()
            log.exception("command_failed", command=command.name, ref=ref, user=ctx.actor.user_id)
            return Message.crashed(ref)
        if not reply.error:
            return reply
        message, usage, rest = reply.text.partition("\nUsage: ")
        return dataclasses.replace(reply, text=brief(message) + usage + rest)

    def groups(self) -> dict[str, list[Command]]:
        """Commands by group, in the order a new user meets them (unlisted groups last)."""
        groups: dict[str, list[Command]] = {}
        for command in self:
            groups.setdefault(command.group, []).append(command)
        rank = {name: i for i, name in enumerate(GROUP_ORDER)}
        return dict(sorted(groups.items(), key=lambda item: rank.get(item[0], len(rank))))

    def help_text(self) -> str:
        """Every command's usage by group: one message (Telegram's 4,096 limit), details per group."""
        lines = ["Stoxlify commands:"]
        for group, commands in self.groups().items():
            lines.append("")
            lines.append(group)
            lines.extend(f"  {c.usage}" for c in commands)
        lines += ["", "What each does: /help COMMAND (e.g. /help run) or /help GROUP (e.g. /help trading)."]
        return "\n".join(lines)

    def group_help(self, name: str) -> str | None:
        """One group's commands with their summaries, or None for an unknown group."""
        for group, commands in self.groups().items():
            if group.lower() == name.strip().lower():
                lines = [f"{group} commands:"]
                lines.extend(f"  {c.usage}\n      {c.summary}" for c in commands)
                return "\n".join(lines)
        return None


def _wants_usage(exc: StoxlifyError) -> bool:
    return isinstance(exc, Invalid)


def bind_args(command: Command, rest: str) -> dict[str, Any]:
    """Bind the words after the command name to its arguments.

    Optional positionals are matched by shape (``1h`` is an interval, ``6mo`` a range), so users
    may leave any of them out. A ``REST`` argument takes the remaining text verbatim (scripts,
    messages), keeping its line breaks.
    """
    kwargs: dict[str, Any] = {}
    text = rest.strip()
    for arg in command.args:
        if arg.kind is ArgKind.REST:
            if arg.required and not text:
                raise UsageError(f"missing {arg.name.upper()}: {arg.help}")
            kwargs[arg.name], text = (text or arg.default), ""
            continue
        if arg.many:
            tokens = split_words(text)
            if arg.required and not tokens:
                raise UsageError(f"missing {arg.name.upper()}: {arg.help}")
            kwargs[arg.name], text = convert_many(arg, tokens), ""
            continue
        token, tail = _next_token(text)
        if token is None:
            if arg.required:
                raise UsageError(f"missing {arg.name.upper()}: {arg.help}")
            kwargs[arg.name] = arg.default
            continue
        if not arg.required and arg.matches is not None and not arg.matches(token):
            kwargs[arg.name] = arg.default
            continue
        kwargs[arg.name], text = convert_arg(arg, token), tail
    if text:
        raise UsageError(f"unexpected '{excerpt(text)}'")
    return kwargs


def _next_token(text: str) -> tuple[str | None, str]:
    """The first shell-like word of ``text`` and what follows it."""
    if not text:
        return None, ""
    # Our own stream (shlex wraps a str in one just the same), so the rest is read from a StringIO:
    # shlex types its ``instream`` as something read one character at a time.
    stream = io.StringIO(text)
    lexer = shlex.shlex(stream, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        token = lexer.get_token()
    except ValueError:  # unbalanced quote: fall back to plain words
        token, _, tail = text.partition(" ")
        return token, tail.strip()
    return token, stream.read().strip()


def convert_many(arg: Arg, tokens: list[str]) -> list[Any]:
    values: list[Any] = []
    for token in tokens:
        values.extend(convert_arg(arg, part) for part in token.split(",") if part)
    return values


# Text read from a file sent with a command (a model's script, a bandarmology CSV of up to 10,000
# rows), the same on every transport; files kept as they are (/upload) use media_max_bytes instead.
MAX_ATTACHED_TEXT_BYTES = 1024 * 1024


def file_too_big(limit: int, what: str = "limit for a file a command reads") -> Invalid:
    """The refusal for a file over ``limit`` bytes, worded the same on every transport."""
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"
    return Invalid(f"that file is over the {size} {what}")


MAX_INT = ID_MAX  # page numbers and ids: anything larger is a typo (and overflows database integers)
# The most digits a number typed in a command may have: past it, no conversion is even tried
# (Python refuses to convert integers of more than 4,300 digits, and none of ours needs 19).
MAX_DIGITS = 18
_SIGNED_DIGITS = re.compile(r"[+-]?[0-9]+")


def whole(digits: str, what: str, limit: int = MAX_INT) -> int:
    """A number typed in a command's free text (``#3``, a page, an amount), bounded like INT arguments.

    Callers check their word with ``str.isdigit``, which is also true for "²" or "٣": only ASCII
    digits are a number here, anything else is a usage mistake rather than a crash in ``int``.
    """
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"{what} must be a whole number, not '{excerpt(digits)}'")
    if len(digits.lstrip("0")) > MAX_DIGITS or int(digits) > limit:
        raise UsageError(f"{what} is out of range: {excerpt(digits, 20)}")
    return int(digits)


def check_int(arg: Arg, value: int) -> int:
    if not -MAX_INT <= value <= MAX_INT:
        raise UsageError(f"{arg.name.upper()} is out of range: {excerpt(str(value), 20)}")
    return value


def convert_arg(arg: Arg, token: str) -> Any:
    if arg.kind is ArgKind.INT:
        return check_int(arg, _int_token(arg, token))
    if arg.kind is ArgKind.CHOICE:
        lowered = token.lower()
        if lowered not in arg.choices:
            raise UsageError(f"{arg.name.upper()} must be one of {', '.join(arg.choices)}, not '{excerpt(token)}'")
        return lowered
    if arg.kind is ArgKind.TICKER:
        return token.upper()
    return token


def _int_token(arg: Arg, token: str) -> int:
    """An INT argument: ASCII digits with an optional sign (``int`` would also take "٣", "1_000" and
    " 7 "), and no more than ``MAX_DIGITS`` of them, checked before converting."""
    if not _SIGNED_DIGITS.fullmatch(token):
        raise UsageError(f"{arg.name.upper()} must be a whole number, not '{excerpt(token)}'")
    if len(token.lstrip("+-").lstrip("0")) > MAX_DIGITS:
        raise UsageError(f"{arg.name.upper()} is out of range: {excerpt(token, 20)}")
    return int(token)


# -- what users type, normalised where it enters ------------------------------------------------

NUL_REFUSED = "the text has a NUL character (\\x00), which cannot be stored: remove it and send it again"


def clean_text(text: str) -> str:
    """Text a user sent, fit for storage: lone surrogates (from JSON escapes; UTF-8 cannot encode
    them, so every driver, log line and chat API call with them fails) mended, NUL refused
    (PostgreSQL rejects it in text; dropping it silently would store something the user did not write)."""
    if "\x00" in text:
        raise UsageError(NUL_REFUSED)
    return mend_surrogates(text)


def clean_values(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A command's arguments with every string (and every string in a list) through ``clean_text``."""
    return {name: _clean_value(value) for name, value in kwargs.items()}


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_text(v) if isinstance(v, str) else v for v in value]
    return value


def _typed_text(kwargs: dict[str, Any]) -> str:
    """Everything the user typed into a command's arguments, lowered, for ``shorten_quotes``."""
    parts = [v for value in kwargs.values() for v in (value if isinstance(value, list) else [value])]
    return "\n".join(p for p in parts if isinstance(p, str)).lower()


# A long word, or a long quoted span (which may hold spaces), in a reply.
_LONG_QUOTE = re.compile(f"'([^'\\n]{{{EXCERPT_CHARS + 1},}})'|\"([^\"\\n]{{{EXCERPT_CHARS + 1},}})\"")
_LONG_WORD = re.compile(f"[^\\s'\"]{{{EXCERPT_CHARS + 1},}}")
_CARET = re.compile(r"\s*\^\s*")  # the line under a script's source line, pointing at the mistake


def shorten_quotes(text: str, kwargs: dict[str, Any]) -> str:
    """``text`` with every long word or quoted span that repeats what the user typed (the values
    of ``kwargs``) cut to an excerpt. Handlers and the core quote names and values freely; doing
    the cutting here, once, keeps a 5,000-character name from coming back in full."""
    if len(text) <= EXCERPT_CHARS:
        return text
    typed: list[str] = []  # built on the first long stretch only: most replies have none

    def cut(match: re.Match[str]) -> str:
        whole_match = match.group(0)
        inner = next((g for g in match.groups() if g is not None), whole_match)  # the quoted part, or the word
        if not typed:
            typed.append(_typed_text(kwargs))
        if inner.lower() not in typed[0]:
            return whole_match
        return whole_match.replace(inner, excerpt(inner))

    lines = text.split("\n")
    for i, line in enumerate(lines):
        # A source line with a caret under it is the script language's own window on the mistake
        # (at most 80 characters): cutting a word of it would move the caret off the mistake.
        if i + 1 < len(lines) and _CARET.fullmatch(lines[i + 1]):
            continue
        lines[i] = _LONG_WORD.sub(cut, _LONG_QUOTE.sub(cut, line))
    return "\n".join(lines)
