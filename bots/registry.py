"""The command registry shared by every transport.

A command is declared once: its name, its arguments (with types and help), the coroutine that
calls the core, and how it renders into a ``Message``. Telegram, Discord and the console only
translate between their library and this registry, so a command added here appears on all of
them. Argument parsing for text transports lives here too, so the usage a user sees on a
mistake is the same everywhere, and so does who may run what where (``Registry.refusal``):
transports only find out the facts it needs (is this a group, does the user administer it).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.errors import Invalid, StoxlifyError
from core.logging import get_logger
from core.message import Message, new_ref
from core.state.ratelimit import RateLimiter

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
    # replies to files (Discord) offer an attachment option
    reads_file: bool = False

    @property
    def usage(self) -> str:
        return " ".join([f"/{self.name}", *(a.metavar for a in self.args)])


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


GROUP_ORDER = (
    "General", "Market", "Monitoring", "Models", "Strategies", "Sharing", "Deployments", "Trading", "Brokers",
    "Plans", "Account", "Admin",
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
    ) -> Callable[[Handler], Handler]:
        """Declare a command; the decorated coroutine takes ``(ctx, **args)`` and returns a Message."""

        def register(handler: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command /{name} declared twice")
            self._commands[name] = Command(
                name, summary, handler, tuple(args), group, tuple(examples), expensive, private_only, admin_only,
                confirmable, reads_file,
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
        """Split ``/name args...`` into a command and its keyword arguments."""
        command, rest = self._find(line)
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
            raise UsageError(f"unknown command /{name}: see /help")
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
        """Run a command, turning every failure into a short reply."""
        refused = self.refusal(command, ctx.actor)
        if refused is not None:
            return refused
        if command.expensive:
            wait = await self.rate_limiter.retry_after(ctx.actor.user_id)
            if wait > 0:
                return Message.fail(
                    f"You're going fast: please wait {math.ceil(wait)} s before the next chart or backtest."
                )
        try:
            return await command.handler(ctx, **kwargs)
        except UsageError as exc:
            return Message.fail(exc.message, command.usage)
        except StoxlifyError as exc:
            return Message.fail(exc.explained, command.usage if _wants_usage(exc) else None)
        except Exception:
            ref = new_ref()
            log.exception("command_failed", command=command.name, ref=ref, user=ctx.actor.user_id)
            return Message.crashed(ref)

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
        raise UsageError(f"unexpected '{text}'")
    return kwargs


def _next_token(text: str) -> tuple[str | None, str]:
    """The first shell-like word of ``text`` and what follows it."""
    if not text:
        return None, ""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        token = lexer.get_token()
    except ValueError:  # unbalanced quote: fall back to plain words
        token, _, tail = text.partition(" ")
        return token, tail.strip()
    return token, lexer.instream.read().strip()


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


MAX_INT = 2**31 - 1  # page numbers and ids: anything larger is a typo (and overflows database integers)


def whole(digits: str, what: str, limit: int = MAX_INT) -> int:
    """A number typed in a command's free text (``#3``, a page, an amount), bounded like INT arguments.

    Callers check their word with ``str.isdigit``, which is also true for "²" or "٣": only ASCII
    digits are a number here, anything else is a usage mistake rather than a crash in ``int``.
    """
    if not (digits.isascii() and digits.isdigit()):
        raise UsageError(f"{what} must be a whole number, not '{digits[:20]}'")
    value = int(digits)
    if value > limit:
        raise UsageError(f"{what} is out of range: {digits[:20]}…")
    return value


def check_int(arg: Arg, value: int) -> int:
    if not -MAX_INT <= value <= MAX_INT:
        raise UsageError(f"{arg.name.upper()} is out of range: {str(value)[:20]}…")
    return value


def convert_arg(arg: Arg, token: str) -> Any:
    if arg.kind is ArgKind.INT:
        try:
            value = int(token)
        except ValueError:
            raise UsageError(f"{arg.name.upper()} must be a whole number, not '{token}'") from None
        return check_int(arg, value)
    if arg.kind is ArgKind.CHOICE:
        lowered = token.lower()
        if lowered not in arg.choices:
            raise UsageError(f"{arg.name.upper()} must be one of {', '.join(arg.choices)}, not '{token}'")
        return lowered
    if arg.kind is ArgKind.TICKER:
        return token.upper()
    return token
