"""Slash commands generated from the command registry, how they run, and button presses.

``add_commands`` iterates the registry and builds one ``app_commands.Command`` per registry
command, so a command declared later appears on Discord with no change here. discord.py reads a
command's options from its callback's signature; ``build_command`` gives each generated callback
an explicit ``__signature__`` (one keyword parameter per ``Arg``, typed ``str`` or ``int``) and
then applies the library's own ``describe``/``rename``/``choices``/``autocomplete`` decorators.

Running one: expensive commands defer ("thinking…") at once and answer with a follow-up; quick
ones answer directly, or defer too when they take longer than ``DEFER_AFTER_S`` (Discord drops
an interaction that is not answered within 3 s). Replies of ``private_only`` commands and
replies marked ephemeral (errors included) are ephemeral.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import keyword
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands

from bots.commands.suggest import suggest_names
from bots.discord.render import Page, render
from bots.registry import (
    MAX_ATTACHED_TEXT_BYTES,
    MAX_INT,
    Arg,
    ArgKind,
    Command,
    Context,
    Registry,
    UsageError,
    check_int,
    convert_arg,
    convert_many,
    file_too_big,
    split_words,
)
from core.account.service import actor_for
from core.actor import Actor
from core.app import Core
from core.errors import StoxlifyError
from core.logging import get_logger
from core.market.types import INTERVALS, RANGE_CODES
from core.message import Message, new_ref
from core.state.buttons import ButtonStore, MemoryButtonStore

log = get_logger(__name__)

PLATFORM = "discord"
MAX_NAME = 32
MAX_DESCRIPTION = 100
MAX_CHOICES = 25
MAX_OPTIONS = 25
DEFER_AFTER_S = 2.0  # a quick command still slower than this defers before the 3 s deadline
AUTOCOMPLETE_BUDGET_S = 2.0
# Discord's modal limits: title 45, label 45, placeholder 100, a paragraph input 4,000 characters.
MODAL_TITLE, MODAL_LABEL, MODAL_PLACEHOLDER, MODAL_TEXT_MAX = 45, 45, 100, 4000
# The longest a typed option may be, by kind (Discord checks it as the user types): a ticker as the
# API takes it, indicators as many as a chart holds; other free text as long as a chat message.
TEXT_MAX = 2000
TEXT_MAX_LENGTH = {ArgKind.TICKER: 32, ArgKind.INDICATOR: 200}
MODAL_TIMEOUT_S = 900.0

Choice = app_commands.Choice
# Autocomplete sources for TICKER options: (runtime, interaction, what the user typed) -> choices.
TickerSuggester = Callable[["Runtime", discord.Interaction, str], Awaitable[list[Choice[str]]]]


async def market_suggestions(
    runtime: Runtime, interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """Instruments whose symbol or name matches what the user typed (``core.market.search``)."""
    query = current.strip()
    if len(query) < 2:
        return []
    hits = await runtime.core.market.search(query, limit=MAX_CHOICES)
    return [Choice(name=_clip(f"{h.symbol} · {h.name} ({h.exchange})"), value=h.symbol[:100]) for h in hits]


@dataclass(slots=True)
class Runtime:
    """What the generated commands and the button handler work with.

    ``ticker_suggesters`` is the hook for TICKER autocomplete: each suggester's choices are merged
    in list order (duplicates dropped, 25 at most). To offer the user's own models or strategies
    first, insert a suggester at index 0; it receives the interaction (``interaction.user.id``).
    """

    core: Core
    registry: Registry
    buttons: ButtonStore = field(default_factory=MemoryButtonStore)
    ticker_suggesters: list[TickerSuggester] = field(default_factory=lambda: [market_suggestions])


# -- building the slash commands --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """How one registry ``Arg`` appears on Discord."""

    arg: Arg
    param: str  # the callback's Python parameter
    name: str  # the option name users see (1-32 characters, lower case)
    annotation: type
    choices: tuple[str, ...] = ()
    autocomplete: bool = False


def option_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]", "_", name.strip().lower())[:MAX_NAME]
    return cleaned or "value"


def options_for(command: Command) -> list[Option]:
    options = []
    for index, arg in enumerate(command.args):
        name = option_name(arg.name)
        param = (
            name
            if name.isidentifier() and not keyword.iskeyword(name) and name != "interaction"
            else f"arg{index}"
        )
        annotation: Any = app_commands.Range[int, 1, MAX_INT] if arg.kind is ArgKind.INT and not arg.many else str
        choices: tuple[str, ...] = ()
        if not arg.many:
            if arg.kind is ArgKind.INTERVAL:
                choices = tuple(INTERVALS)
            elif arg.kind is ArgKind.RANGE:
                choices = tuple(RANGE_CODES)
            elif arg.kind is ArgKind.CHOICE:
                choices = tuple(arg.choices)
        if len(choices) > MAX_CHOICES:  # Discord shows at most 25: accept free text, checked on use
            choices = ()
        if annotation is str and not choices:  # Discord refuses longer text before it reaches us
            annotation = app_commands.Range[str, None, TEXT_MAX_LENGTH.get(arg.kind, TEXT_MAX)]
        options.append(Option(arg, param, name, annotation, choices, arg.kind is ArgKind.TICKER))
    if command.confirmable:  # the typed ``--yes`` of text transports: confirm without the button
        options.append(Option(YES_ARG, YES_ARG.name, YES_ARG.name, bool))
    if command.reads_file:  # Discord has no replying to a file with a slash command: attach it instead
        options.append(Option(FILE_ARG, FILE_ARG.name, FILE_ARG.name, discord.Attachment))
    return options


class SlashCommand(app_commands.Command[Any, ..., Any]):
    """Declares where it may be used with ``contexts`` and ``integration_types`` only: the deprecated
    ``dm_permission`` that discord.py still sends beside them is left out."""

    def to_dict(self, tree: app_commands.CommandTree[Any]) -> dict[str, Any]:
        payload = super().to_dict(tree)
        payload.pop("dm_permission", None)
        return payload


def build_command(command: Command, runtime: Runtime) -> app_commands.Command:
    """The slash command for one registry command."""
    options = options_for(command)
    if len(options) > MAX_OPTIONS:
        raise ValueError(f"/{command.name} has {len(options)} arguments; Discord allows {MAX_OPTIONS}")

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(runtime, interaction, command, {o.arg.name: values.get(o.param) for o in options})

    async def ticker_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        return await suggest_tickers(runtime, interaction, current)

    def name_autocomplete(kind: str) -> Any:
        async def complete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
            return await suggest_owned(runtime, interaction, kind, current)

        return complete

    callback.__name__ = callback.__qualname__ = f"slash_{option_name(command.name).replace('-', '_')}"
    callback.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
            ),
            *(
                inspect.Parameter(
                    o.param,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=o.annotation,
                    default=inspect.Parameter.empty if o.arg.required else None,
                )
                for o in options
            ),
        ]
    )
    if options:
        app_commands.describe(**{o.param: _clip(o.arg.help) for o in options})(callback)
    renames = {o.param: o.name for o in options if o.param != o.name}
    if renames:
        app_commands.rename(**renames)(callback)
    choices = {o.param: [Choice(name=c, value=c) for c in o.choices] for o in options if o.choices}
    if choices:
        app_commands.choices(**choices)(callback)
    completions: dict[str, Any] = {o.param: ticker_autocomplete for o in options if o.autocomplete}
    completions |= {o.param: name_autocomplete(o.arg.suggest) for o in options if o.arg.suggest}
    if completions:
        app_commands.autocomplete(**completions)(callback)
    slash: app_commands.Command[Any, ..., Any] = SlashCommand(
        name=option_name(command.name),
        description=_clip(command.summary),
        callback=callback,
        extras={"registry_command": command.name},
    )
    # A bot installed in servers, used there and in its DMs (not in group DMs, where it is not a member)
    slash.allowed_contexts = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=False)
    slash.allowed_installs = app_commands.AppInstallationType(guild=True, user=False)
    if command.admin_only:
        # hidden from non-admins by default; guild admins may change that, so ``is_admin`` still decides
        slash.default_permissions = discord.Permissions(manage_guild=True)
    return slash


def add_commands(tree: app_commands.CommandTree, runtime: Runtime) -> list[app_commands.Command]:
    """Add one slash command per registry command to ``tree`` (global; ``client.sync`` copies to guilds)."""
    built = [build_command(command, runtime) for command in runtime.registry]
    for slash in built:
        tree.add_command(slash, override=True)
    return built


def _clip(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split()) or "…"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- autocomplete -------------------------------------------------------------------------------


async def suggest_tickers(
    runtime: Runtime, interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """Every suggester's choices, merged; a failing or slow suggester is skipped, never raised."""
    results = await asyncio.gather(
        *(
            asyncio.wait_for(s(runtime, interaction, current), AUTOCOMPLETE_BUDGET_S)
            for s in runtime.ticker_suggesters
        ),
        return_exceptions=True,
    )
    merged: list[Choice[str]] = []
    seen: set[str] = set()
    for result in results:
        if isinstance(result, BaseException):
            if not isinstance(result, StoxlifyError | TimeoutError):
                log.warning("autocomplete_failed", error=repr(result))
            continue
        for choice in result:
            if choice.value not in seen:
                seen.add(choice.value)
                merged.append(choice)
    return merged[:MAX_CHOICES]


async def suggest_owned(
    runtime: Runtime, interaction: discord.Interaction, kind: str, current: str
) -> list[Choice[str]]:
    """The user's own model or strategy names; nothing (never an error) when that fails."""
    try:
        actor = await actor_of(runtime.core, interaction)
        names = await asyncio.wait_for(
            suggest_names(runtime.core, actor, kind, current, MAX_CHOICES), AUTOCOMPLETE_BUDGET_S
        )
    except (StoxlifyError, TimeoutError):
        return []
    return [Choice(name=name, value=name) for name in names]


# -- running a command --------------------------------------------------------------------------


def convert(command: Command, raw: dict[str, Any]) -> dict[str, Any]:
    """Discord's option values as the registry handler's keyword arguments.

    Conversion is the registry's own (tickers upper-cased, choices checked); a ``many`` argument
    arrives as one string and is split on spaces and commas ("rsi macd ema:50").
    """
    kwargs: dict[str, Any] = {}
    for arg in command.args:
        value = raw.get(arg.name)
        if isinstance(value, str) and arg.kind is not ArgKind.REST:
            value = value.strip()
        if value is None or value == "":
            if arg.required:
                raise UsageError(f"missing {arg.name.upper()}: {arg.help}")
            kwargs[arg.name] = copy.copy(arg.default)
        elif arg.many:
            kwargs[arg.name] = convert_many(arg, split_words(str(value)))
        elif isinstance(value, str):
            kwargs[arg.name] = convert_arg(arg, value)
        elif isinstance(value, int) and arg.kind is ArgKind.INT:
            kwargs[arg.name] = check_int(arg, value)
        else:
            kwargs[arg.name] = value
    if command.confirmable:
        kwargs["confirmed"] = raw.get(YES_ARG.name) is True
    return kwargs


def is_admin(interaction: discord.Interaction) -> bool:
    """A guild member who may manage the guild. Checked here, whatever permissions the command has."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_guild


async def actor_of(core: Core, interaction: discord.Interaction) -> Actor:
    user = interaction.user
    in_guild = interaction.guild_id is not None
    actor = await actor_for(
        core.db,
        platform=PLATFORM,
        external_id=str(user.id),
        display_name=user.display_name or user.name,
        chat_id=str(interaction.channel_id) if interaction.channel_id is not None else None,
        chat_title=_chat_title(interaction),
        is_group=in_guild or isinstance(interaction.channel, discord.GroupChannel),
    )
    return dataclasses.replace(actor, is_admin=is_admin(interaction))


def _chat_title(interaction: discord.Interaction) -> str | None:
    channel_name = getattr(interaction.channel, "name", None)
    guild_name = getattr(interaction.guild, "name", None)
    if guild_name and channel_name:
        return f"{guild_name} #{channel_name}"
    return guild_name or channel_name


async def _answer(
    runtime: Runtime,
    interaction: discord.Interaction,
    command: Command,
    raw: dict[str, Any],
    *,
    converted: bool = False,
) -> Message:
    """The command's reply; never raises."""
    try:
        kwargs = raw if converted else convert(command, raw)
        actor = await actor_of(runtime.core, interaction)
        extras: dict[str, Any] = {"interaction": interaction}
        attachment = raw.get(FILE_ARG.name) if not converted else None
        if isinstance(attachment, discord.Attachment):
            extras |= attachment_loaders(attachment, runtime.core.settings.media_max_bytes)
        ctx = Context(core=runtime.core, actor=actor, transport=PLATFORM, extras=extras)
        return await runtime.registry.invoke(ctx, command, kwargs)
    except UsageError as exc:
        return Message.fail(exc.message, command.usage)
    except StoxlifyError as exc:
        return Message.fail(exc.explained)
    except Exception:
        return _oops("discord_command_failed", command=command.name, user=interaction.user.id)


def _oops(event: str, **fields: Any) -> Message:
    ref = new_ref()
    log.exception(event, ref=ref, **fields)
    return Message.crashed(ref)


async def _in_time(
    interaction: discord.Interaction, work: asyncio.Future[Message], *, defer_now: bool, **defer: Any
) -> bool:
    """Defer now (slow commands), or once ``work`` outlives ``DEFER_AFTER_S``; True when deferred."""
    if not defer_now:
        done, _ = await asyncio.wait({work}, timeout=DEFER_AFTER_S)
        if done:
            return False
    await interaction.response.defer(**defer)
    return True


class AskModal(discord.ui.Modal):
    """A form for the one argument a slash option cannot carry (a multi-line script); submitting
    it runs the command with the other options the user gave.

    A command that reads a file (``reads_file``: a script, a broker CSV, a photo) gets a File Upload
    (type 19, in its own Label) under the text: either may be filled, so the text is optional there.
    The uploaded file goes on as the ``file`` option does, through ``attachment_loaders`` with the
    same size bounds, so the core call cannot tell a form's file from a slash option's."""

    def __init__(self, runtime: Runtime, command: Command, raw: dict[str, Any], arg: Arg) -> None:
        given = " ".join(str(v) for v in raw.values() if v not in (None, ""))
        super().__init__(title=_clip(f"/{command.name} {given}", MODAL_TITLE), timeout=MODAL_TIMEOUT_S)
        self.runtime, self.command, self.raw, self.arg = runtime, command, raw, arg
        self.text: discord.ui.TextInput[AskModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            placeholder=_clip(arg.help, MODAL_PLACEHOLDER),
            max_length=MODAL_TEXT_MAX,
            required=not command.reads_file,
        )
        # The Label component holds the field's name and help (a text input's own label is the old way)
        self.add_item(discord.ui.Label(text=_clip(arg.name.capitalize(), MODAL_LABEL),
                                       description=_clip(arg.help, MODAL_PLACEHOLDER), component=self.text))  # fmt: skip
        self.upload: discord.ui.FileUpload[AskModal] | None = None
        if command.reads_file:
            # one file, and none is required: the text above may hold what the file would
            self.upload = discord.ui.FileUpload(required=False, min_values=0, max_values=1)
            self.add_item(discord.ui.Label(text=MODAL_FILE_LABEL, description=_clip(FILE_ARG.help, MODAL_PLACEHOLDER),
                                           component=self.upload))  # fmt: skip

    async def on_submit(self, interaction: discord.Interaction) -> None:
        raw = {**self.raw, self.arg.name: self.text.value}
        if self.upload is not None and self.upload.values:
            raw[FILE_ARG.name] = self.upload.values[0]
        await run(self.runtime, interaction, self.command, raw)


FILE_ARG = Arg("file", "a file instead of typing it: a script, a CSV or an image", required=False)
MODAL_FILE_LABEL = "Or a file"
YES_ARG = Arg("yes", "True: do it now, without asking to confirm", required=False)


def attachment_loaders(attachment: discord.Attachment, media_limit: int) -> dict[str, Any]:
    """``attached_text`` / ``attached_file`` for a slash command's attachment, read only when asked:
    text (a script, a CSV) up to ``MAX_ATTACHED_TEXT_BYTES``, a file kept as is up to ``media_limit``."""

    async def as_text() -> bytes:
        if attachment.size > MAX_ATTACHED_TEXT_BYTES:
            raise file_too_big(MAX_ATTACHED_TEXT_BYTES)
        return await attachment.read()

    async def as_file() -> tuple[bytes, str]:
        if attachment.size > media_limit:
            raise file_too_big(media_limit, "upload limit")
        return await attachment.read(), attachment.filename or "file"

    return {"attached_text": as_text, "attached_file": as_file}


def _asked(command: Command, raw: dict[str, Any]) -> Arg | None:
    if raw.get(FILE_ARG.name) is not None:
        return None  # the attached file is what would be asked for
    for arg in command.args:
        if arg.ask is not None and raw.get(arg.name) in (None, "") and arg.ask(raw):
            return arg
    return None


async def run(
    runtime: Runtime, interaction: discord.Interaction, command: Command, raw: dict[str, Any]
) -> None:
    """Run ``command`` for a slash-command interaction and answer it."""
    asked = _asked(command, raw)
    # no form for a private-only command in a group: it would be refused after the user filled it
    in_group = interaction.guild_id is not None or isinstance(interaction.channel, discord.GroupChannel)
    if command.private_only and in_group:
        asked = None
    if asked is not None and interaction.type is discord.InteractionType.application_command:
        await interaction.response.send_modal(AskModal(runtime, command, raw, asked))
        return
    private = command.private_only
    work = asyncio.ensure_future(_answer(runtime, interaction, command, raw))
    try:
        deferred = await _in_time(
            interaction, work, defer_now=command.expensive, thinking=True, ephemeral=private
        )
        reply = await work
        pages = render(reply, bind=await runtime.buttons.binder(str(interaction.user.id), reply.buttons))
        ephemeral = private or reply.ephemeral
        first, rest = pages[0], pages[1:]
        if not deferred:
            await interaction.response.send_message(**first.send_kwargs(), ephemeral=ephemeral)
        elif ephemeral and not private:
            # a public "thinking…" placeholder cannot turn private: remove it and answer privately
            await interaction.delete_original_response()
            await interaction.followup.send(**first.send_kwargs(), ephemeral=True, wait=True)
        else:
            await interaction.followup.send(**first.send_kwargs(), ephemeral=ephemeral, wait=True)
        await _send_rest(interaction, rest, ephemeral=ephemeral)
    except discord.HTTPException as exc:  # expired interaction, missing access: nothing left to tell the user
        log.warning("discord_answer_failed", command=command.name, status=exc.status, code=exc.code)
    except Exception:
        await _tell_privately(interaction, _oops("discord_answer_crashed", command=command.name))
    finally:
        work.cancel()


async def _send_rest(interaction: discord.Interaction, pages: list[Page], *, ephemeral: bool) -> None:
    for page in pages:
        await interaction.followup.send(**page.send_kwargs(), ephemeral=ephemeral, wait=True)


async def _tell_privately(
    interaction: discord.Interaction,
    reply: Message,
    *,
    owner: str | None = None,
    buttons: ButtonStore | None = None,
) -> None:
    """An ephemeral answer: the interaction's response if still open, else a follow-up."""
    bind = await buttons.binder(owner, reply.buttons) if owner is not None and buttons is not None else None
    pages = render(reply, bind=bind)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(**pages[0].send_kwargs(), ephemeral=True, wait=True)
        else:
            await interaction.response.send_message(**pages[0].send_kwargs(), ephemeral=True)
        await _send_rest(interaction, pages[1:], ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("discord_answer_failed", status=exc.status, code=exc.code)


# -- buttons ------------------------------------------------------------------------------------


async def press(interaction: discord.Interaction, token: str) -> None:
    """A ``TokenButton`` press: only its owner may run it; the result replaces the message in place."""
    runtime = getattr(interaction.client, "runtime", None)
    if not isinstance(runtime, Runtime):
        log.warning("discord_button_without_runtime")
        return
    try:
        line = await runtime.buttons.resolve(token, str(interaction.user.id))
        command, kwargs = runtime.registry.parse(line)
    except UsageError as exc:  # a stored command line that no longer parses
        await _tell_privately(interaction, Message.fail(exc.message, exc.hint))
        return
    except StoxlifyError as exc:  # expired, or someone else's
        await _tell_privately(interaction, Message.fail(exc.explained))
        return
    try:
        await _rerun(runtime, interaction, command, kwargs)
    except discord.HTTPException as exc:
        log.warning("discord_press_failed", command=command.name, status=exc.status, code=exc.code)
    except Exception:
        await _tell_privately(interaction, _oops("discord_press_crashed", command=command.name))


async def _rerun(
    runtime: Runtime, interaction: discord.Interaction, command: Command, kwargs: dict[str, Any]
) -> None:
    """Run a pressed button's command and show the result in place of the message it sits under."""
    message = interaction.message
    message_private = bool(message is not None and message.flags.ephemeral)
    work = asyncio.ensure_future(_answer(runtime, interaction, command, kwargs, converted=True))
    try:
        deferred = await _in_time(interaction, work, defer_now=command.expensive)  # type 6: update later
        reply = await work
        owner = str(interaction.user.id)
        if reply.error or ((command.private_only or reply.ephemeral) and not message_private):
            # failures, and private results under a public message, go to the presser alone
            await _tell_privately(interaction, reply, owner=owner, buttons=runtime.buttons)
            return
        # a card stays a card (Discord keeps IS_COMPONENTS_V2 once set); an embed message may become one
        card = True if message is not None and message.flags.components_v2 else None
        pages = render(reply, bind=await runtime.buttons.binder(owner, reply.buttons), card=card)
        if deferred:
            await interaction.edit_original_response(**pages[0].edit_kwargs())
        else:
            await interaction.response.edit_message(**pages[0].edit_kwargs())
        await _send_rest(interaction, pages[1:], ephemeral=message_private)
    finally:
        work.cancel()
