"""The Telegram transport: python-telegram-bot 22 translating to and from the command registry.

Every registry command becomes a ``CommandHandler`` (generated from the registry, so a command
added there appears here). A command message is fed through ``registry.parse``/``invoke`` exactly
like the console does, so parsing, refusals (private-only in groups, admin-only for non-admins,
rate limits) and error replies are the same on every transport; this module only adds what is
Telegram's: who the user is (and whether they administer the group), chat actions while slow work
runs, buttons pressed later, pasted secrets deleted from groups, and the bot's command menu.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Chat,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    PhotoSize,
    Update,
    User,
)
from telegram import (
    Message as TelegramMessage,
)
from telegram import error as tg_error
from telegram.constants import ChatAction, ChatMemberStatus, ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bots.registry import MAX_ATTACHED_TEXT_BYTES, Command, Context, Registry, UsageError, file_too_big
from bots.secrets_guard import looks_like_secret
from bots.telegram import members, payments, render
from bots.telegram.notifier import TelegramNotifier
from core.account.service import actor_for
from core.app import Core
from core.errors import Forbidden, NotFound, StoxlifyError, Unavailable
from core.logging import get_logger, register_secret
from core.message import Message, new_ref
from core.state.buttons import ButtonStore

log = get_logger(__name__)

PLATFORM = "telegram"
TRANSPORT_KEY = "stoxlify_transport"
# Senders that stand for a chat, not a person: anonymous group admins, channels posting in groups,
# and Telegram's service account forwarding a linked channel's posts.
GROUP_ANONYMOUS_BOT = 1087968824
CHANNEL_BOT = 136817688
TELEGRAM_SERVICE = 777000
IMPERSONAL_SENDERS = frozenset({GROUP_ANONYMOUS_BOT, CHANNEL_BOT, TELEGRAM_SERVICE})
ANONYMOUS_REFUSAL = (
    "Please post as yourself to use commands: messages sent anonymously or on behalf of a chat "
    "don't tell me who you are, so I can't act for you."
)
ACTION_EVERY_S = 4.0  # a chat action shows for about 5 s
TYPING_AFTER_S = 1.0  # quick commands answer before "typing..." would even show
ADMIN_CACHE_S = 60.0
RATE_LIMIT_RETRIES = 3
# chat_member arrives only while the bot is a group admin; my_chat_member always (bots/telegram/members.py)
# pre_checkout_query: Telegram Stars purchases (bots/telegram/payments.py) must be answered within 10 s
ALLOWED_UPDATES = (
    "message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member", "chat_member",
)
BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_MENU_COMMANDS = 100
DESCRIPTION_LIMIT = 256
# What an empty chat with the bot shows (up to 512 characters), and its profile line (up to 120).
BOT_DESCRIPTION = (
    "Stoxlify: quotes and candlestick charts for Indonesian stocks and crypto, trading models you write, "
    "backtest and deploy from this chat (paper trading by default), and alerts with charts when a model "
    "trades or a watched ticker moves. Press Start, or send /help."
)
BOT_SHORT_DESCRIPTION = "Charts, backtests and alerts for IDX stocks and crypto, right in the chat."


class TelegramTransport:
    """The handlers of one Telegram bot, sharing the core, the registry and the button store."""

    def __init__(self, core: Core, registry: Registry, buttons: ButtonStore | None = None) -> None:
        self.core = core
        self.registry = registry
        # the core's store (in Redis when REDIS_URL is set: a button works on any replica)
        self.buttons = buttons or core.state.buttons
        self._admins: dict[tuple[int, int], tuple[float, bool]] = {}

    # -- wiring ----------------------------------------------------------------------------

    def install(self, app: Application) -> None:
        app.bot_data[TRANSPORT_KEY] = self
        guard = (filters.TEXT | filters.CAPTION) & filters.ChatType.GROUPS & filters.UpdateType.MESSAGES
        app.add_handler(MessageHandler(guard, self.on_group_text), group=-1)
        for handler in payments.handlers(self.core):  # Stars: pre-checkout, successful and refunded payments
            app.add_handler(handler)
        new_messages = filters.UpdateType.MESSAGE
        for command in self.registry:
            if not BOT_COMMAND.match(command.name):
                log.warning(
                    "telegram_command_skipped", command=command.name, reason="not a valid Telegram command"
                )
                continue
            app.add_handler(CommandHandler(command.name, self.on_command, filters=new_messages))
        app.add_handler(MessageHandler(filters.COMMAND & new_messages, self.on_unknown_command))
        # A photo or file captioned with a command that reads files (/upload, /model save, /bandar
        # import): captions carry no command entity CommandHandler sees. In groups too: _run_line
        # refuses the private-only ones (/upload) there, as it does when they are typed.
        readers = "|".join(re.escape(c.name) for c in self.registry if c.reads_file)
        if readers:
            uploads = (filters.PHOTO | filters.Document.ALL) & filters.CaptionRegex(rf"^/({readers})(@\w+)?(\s|$)")
            app.add_handler(MessageHandler(uploads & new_messages, self.on_upload))
        app.add_handler(
            MessageHandler(
                filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE & new_messages, self.on_chatter
            )
        )
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(members.handler(self.core))  # members leaving, the bot removed: /copy revoked
        app.add_error_handler(self.on_error)

    def notifier(self, app: Application) -> TelegramNotifier:
        """A notifier on this bot whose buttons (in private chats) land in this transport's store."""
        return TelegramNotifier(app.bot, buttons=self.buttons)

    def menu(self, *, groups: bool = False, group_admin: bool = False, bot_admin: bool = False) -> list[BotCommand]:
        """The command menu: the registry commands Telegram accepts, with their summaries. In
        ``groups`` none of the private-only ones, and a group's settings (``admin_only``) only for its
        ``group_admin``s; in private, the bot's own commands (``for_bot_admins``) only for a ``bot_admin``."""
        commands = []
        for command in self.registry:
            if not BOT_COMMAND.match(command.name):
                continue
            if groups:
                hidden = command.private_only or command.for_bot_admins or (command.admin_only and not group_admin)
            else:  # a group's settings mean nothing in a private chat
                hidden = command.admin_only or (command.for_bot_admins and not bot_admin)
            if hidden:
                continue
            summary = " ".join(command.summary.split()) or command.name
            if len(summary) > DESCRIPTION_LIMIT:
                summary = summary[: DESCRIPTION_LIMIT - 1] + "…"
            commands.append(BotCommand(command.name, summary))
        return commands[:MAX_MENU_COMMANDS]

    def menus(self) -> list[tuple[BotCommandScope, list[BotCommand]]]:
        """A menu per scope (Telegram picks the most specific): groups (and the default), the
        administrators of any group (with /group), private chats, and each bot administrator's own
        chat with the bot (the ``telegram:`` entries of ``ADMIN_IDS``), the only menu with their commands."""
        admins = [entry.strip().partition(":")[2] for entry in self.core.settings.admin_ids
                  if entry.strip().startswith(f"{PLATFORM}:")]  # fmt: skip
        return [
            (BotCommandScopeDefault(), self.menu(groups=True)),
            (BotCommandScopeAllGroupChats(), self.menu(groups=True)),
            (BotCommandScopeAllChatAdministrators(), self.menu(groups=True, group_admin=True)),
            (BotCommandScopeAllPrivateChats(), self.menu()),
            *((BotCommandScopeChat(int(user_id)), self.menu(bot_admin=True)) for user_id in admins if user_id.isdigit()),
        ]

    async def post_init(self, app: Application) -> None:
        for scope, commands in self.menus():
            try:
                await app.bot.set_my_commands(commands, scope=scope)
            except tg_error.TelegramError as exc:  # an admin who never opened a chat with the bot: no such chat yet
                log.warning("telegram_menu_not_set", scope=scope.type, error=str(exc))
        try:
            await app.bot.set_my_description(BOT_DESCRIPTION)
            await app.bot.set_my_short_description(BOT_SHORT_DESCRIPTION)
        except tg_error.TelegramError as exc:
            log.warning("telegram_description_not_set", error=str(exc))

    # -- messages ---------------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        line = command_line(update)
        if line is not None:
            await self._run_typed(context, line)

    async def on_unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command the registry lacks: answered in private, or in a group when addressed to this bot."""
        line = command_line(update)
        if line is None:
            return
        if line.chat.type != Chat.PRIVATE and line.addressee.lower() != (context.bot.username or "").lower():
            return  # another bot's command
        await self._run_typed(context, line)

    async def on_upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo or file captioned with a file-reading command (``/upload NAME``,
        ``/model save NAME``): run it like the command, with the file."""
        line = command_line(update, caption=True)
        if line is None:
            return
        if line.addressee and line.addressee.lower() != (context.bot.username or "").lower():
            return  # another bot's command
        await self._run_typed(context, line)

    async def _run_typed(self, context: ContextTypes.DEFAULT_TYPE, line: CommandLine) -> None:
        """Run a command someone sent; refused for senders that are not a person (whom to act for?)."""
        if line.user is None or _impersonal(line.message, line.user):
            await self._say(context, line.chat.id, render.escape(ANONYMOUS_REFUSAL), line.message)
            return
        await self._run_line(context, line.text, line.user, line.chat, source=line.message)

    async def on_chatter(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text in a private chat: point at the commands."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        hint = "I answer commands: try /market BBCA or /search bank, and /help lists them all."
        await self._say(context, chat.id, render.escape(hint), None)

    async def on_group_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A key or token pasted into a group: delete it and tell the sender to revoke it. Never echoed."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        text = message.text or message.caption or ""
        if not looks_like_secret(text):
            return
        user = update.effective_user
        deleted = True
        try:
            await message.delete()
        except tg_error.TelegramError as exc:
            deleted = False
            log.warning("telegram_secret_not_deleted", chat=chat.id, error=type(exc).__name__)
        log.warning("telegram_secret_in_group", chat=chat.id, user=user.id if user else None, deleted=deleted)
        who = user.mention_html() if user is not None and user.id not in IMPERSONAL_SENDERS else "Someone"
        if deleted:
            what = f"{who}, that message looked like an API key, secret or bot token, so I deleted it."
        else:
            what = (
                f"{who}, that message looked like an API key, secret or bot token. I could not delete it "
                '(I need admin rights with "Delete messages"): delete it yourself now.'
            )
        advice = (
            "Anyone here may already have seen it: <b>revoke that key now</b> and create a new one "
            "(at your exchange, or with @BotFather for a bot token). Send keys only in a private chat with me."
        )
        await self._say(context, chat.id, f"{what}\n{advice}", None, thread=_thread(message))
        raise ApplicationHandlerStop  # nothing else may act on (or quote) this message

    # -- buttons ----------------------------------------------------------------------------

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        presser = query.from_user
        try:
            line = await self.buttons.resolve(query.data or "", str(presser.id))
        except (Forbidden, NotFound, Unavailable) as exc:  # not yours, expired, or the store is away
            await query.answer(exc.message, show_alert=True)
            if isinstance(exc, NotFound) and isinstance(query.message, TelegramMessage):
                with contextlib.suppress(tg_error.TelegramError):  # an expired keyboard goes, for everyone
                    await query.message.edit_reply_markup(reply_markup=None)
            return
        original = query.message
        if original is None:  # a button on an inline-mode message: nowhere to answer
            await query.answer("This button can't be used here: run the command yourself.", show_alert=True)
            return
        await query.answer()
        message = original if isinstance(original, TelegramMessage) else None
        await self._run_line(context, line, presser, original.chat, pressed=message)

    # -- the common path --------------------------------------------------------------------

    async def _run_line(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        line: str,
        user: User,
        chat: Chat,
        *,
        source: TelegramMessage | None = None,
        pressed: TelegramMessage | None = None,
    ) -> None:
        """Parse and run one command line for ``user`` in ``chat`` and send the reply.

        ``source`` is the user's command message (replies in groups quote it); ``pressed`` is the
        bot's message whose button was pressed (a photo may be re-rendered in place).
        """
        bot = context.bot
        group = chat.type != Chat.PRIVATE
        anchor = source or pressed
        thread = _thread(anchor) if anchor is not None else None
        try:
            actor = await actor_for(
                self.core.db,
                platform=PLATFORM,
                external_id=str(user.id),
                display_name=user.full_name,
                chat_id=str(chat.id),
                chat_title=chat.title or chat.full_name or None,
                is_group=group,
            )
        except StoxlifyError as exc:
            await self._send(context, chat.id, Message.fail(exc.message), None, source, thread)
            return
        try:
            command, kwargs = self._parse(line)
        except UsageError as exc:
            await self._send(context, chat.id, Message.fail(exc.message, exc.hint), None, source, thread)
            return
        if self.registry.needs_admin_check(command, group):
            actor = dataclasses.replace(actor, is_admin=await self._is_admin(bot, chat.id, user.id))
        refused = self.registry.refusal(command, actor)
        ctx = Context(
            core=self.core, actor=actor, transport=PLATFORM,
            extras={
                "attached_text": partial(attached_text, source),
                "attached_file": partial(attached_file, source, self.core.settings.media_max_bytes),
                "delete_message": partial(delete_message, source),
            },
        )  # fmt: skip
        log.info(
            "telegram_command", command=command.name, user=user.id, chat=chat.id, button=pressed is not None
        )
        if refused is not None:  # answered at once: no "typing..." for a refusal
            reply = refused
        else:
            async with _chat_action(bot, chat.id, command, thread):
                reply = await self.registry.invoke(ctx, command, kwargs)
        extra: list[list[InlineKeyboardButton]] = []
        if command.private_only and group and bot.username:
            extra.append([InlineKeyboardButton("Open a private chat", url=f"https://t.me/{bot.username}")])
        markup = render.keyboard(reply.buttons, await self.buttons.binder(str(user.id), reply.buttons), extra=extra)
        if pressed is not None and pressed.photo and len(reply.images) == 1 and not reply.error and not reply.files:
            try:
                await render.edit_photo(bot, pressed, reply, markup=markup)
                return
            except tg_error.BadRequest as exc:  # too old, deleted, or unchanged: answer anew instead
                log.info("telegram_edit_fallback", chat=chat.id, error=exc.message)
        elif pressed is not None and pressed.text is not None and not group:
            # in private chats only: in a group a public button's presser (/copy) would overwrite the
            # message everyone shares. A page turns, a confirmation becomes its outcome, in place.
            try:
                if await render.edit_text(bot, pressed, reply, markup=markup):
                    return
            except tg_error.BadRequest as exc:
                log.info("telegram_edit_fallback", chat=chat.id, error=exc.message)
        await self._send(context, chat.id, reply, markup, source, thread)

    def _parse(self, line: str) -> tuple[Command, dict[str, Any]]:
        try:
            return self.registry.parse(line)
        except UsageError:
            head = line.split(maxsplit=1)[0].split("@", 1)[0].lower()
            if head == "/start":  # deep links arrive as "/start PAYLOAD"
                return self.registry.parse("/start")
            raise

    async def _is_admin(self, bot: Any, chat_id: int, user_id: int) -> bool:
        """Whether ``user_id`` administers ``chat_id`` (getChatMember), cached for a minute."""
        key = (chat_id, user_id)
        now = time.monotonic()
        cached = self._admins.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except tg_error.TelegramError as exc:
            log.warning("telegram_admin_check_failed", chat=chat_id, user=user_id, error=type(exc).__name__)
            return False
        admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        if len(self._admins) > 10_000:
            self._admins = {k: v for k, v in self._admins.items() if v[0] > now}
        self._admins[key] = (now + ADMIN_CACHE_S, admin)
        return admin

    async def _send(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        reply: Message,
        markup: InlineKeyboardMarkup | None,
        source: TelegramMessage | None,
        thread: int | None,
    ) -> None:
        quote = _quoted(source)
        await render.send_reply(context.bot, chat_id, reply, markup=markup, reply_to=quote, thread_id=thread)

    async def _say(
        self,
        context: ContextTypes.DEFAULT_TYPE,
        chat_id: int,
        html_text: str,
        source: TelegramMessage | None,
        *,
        thread: int | None = None,
    ) -> None:
        quote = _quoted(source)
        if source is not None:
            thread = _thread(source)
        await render.send_html(context.bot, chat_id, [html_text], reply_to=quote, thread_id=thread)

    # -- errors -----------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with a reference id (never the update's text) and tell the chat, without a trace."""
        ref = new_ref()
        chat = update.effective_chat if isinstance(update, Update) else None
        log.error(
            "telegram_update_failed",
            ref=ref,
            update_id=update.update_id if isinstance(update, Update) else None,
            chat=chat.id if chat else None,
            error=type(context.error).__name__,
            exc_info=context.error,
        )
        if chat is None:
            return
        with contextlib.suppress(tg_error.TelegramError):
            await context.bot.send_message(chat.id, render.escape(Message.crashed(ref).text), parse_mode=ParseMode.HTML)


@dataclass(frozen=True, slots=True)
class CommandLine:
    """A command as it arrived: the message carrying it, its chat, its sender and the line itself."""

    message: TelegramMessage
    chat: Chat
    user: User | None
    text: str

    @property
    def addressee(self) -> str:
        """The bot a group command names (``/market@StoxlifyBot``), or ""."""
        return self.text.split(maxsplit=1)[0].partition("@")[2]


def command_line(update: Update, *, caption: bool = False) -> CommandLine | None:
    """The command line of an update (a message's text, or a photo's or file's ``caption``), or None
    when there is none to run: the one reading of an update that every command handler shares."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return None
    text = message.caption if caption else message.text
    if not text:
        return None
    return CommandLine(message, chat, update.effective_user, text)


def _impersonal(message: TelegramMessage, user: User | None) -> bool:
    """Sent anonymously by a group admin, on behalf of a channel, or by Telegram itself: not a person."""
    return user is None or user.id in IMPERSONAL_SENDERS or message.sender_chat is not None


def _quoted(source: TelegramMessage | None) -> int | None:
    """The message an answer quotes: the command's, in groups (where several people talk at once)."""
    return source.message_id if source is not None and source.chat.type != Chat.PRIVATE else None


def _thread(message: TelegramMessage) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


@contextlib.asynccontextmanager
async def _chat_action(bot: Any, chat_id: int, command: Command, thread: int | None) -> AsyncIterator[None]:
    """Show "sending photo..." (expensive commands, at once) or "typing..." (if slow) while the command runs."""
    action = ChatAction.UPLOAD_PHOTO if command.expensive else ChatAction.TYPING

    async def send() -> None:
        try:
            await bot.send_chat_action(chat_id, action, message_thread_id=thread)
        except tg_error.TelegramError as exc:
            log.debug("telegram_chat_action_failed", chat=chat_id, error=type(exc).__name__)

    async def keep_alive(delay: float) -> None:
        await asyncio.sleep(delay)
        while True:
            await send()
            await asyncio.sleep(ACTION_EVERY_S)

    if command.expensive:
        await send()
        task = asyncio.create_task(keep_alive(ACTION_EVERY_S))
    else:
        task = asyncio.create_task(keep_alive(TYPING_AFTER_S))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def transport_of(app: Application) -> TelegramTransport:
    """The transport installed on ``app`` by ``build_application``."""
    return app.bot_data[TRANSPORT_KEY]


async def attached_text(message: TelegramMessage | None) -> str | bytes | None:
    """What a command refers to besides its own text: the message it replies to (its text or
    caption), or a small text file sent with or replied to (a model's script, say)."""
    if message is None:
        return None
    for candidate in (message, message.reply_to_message):
        if candidate is None:
            continue
        document = candidate.document
        if document is not None:
            if (document.file_size or 0) > MAX_ATTACHED_TEXT_BYTES:
                raise file_too_big(MAX_ATTACHED_TEXT_BYTES)
            file = await document.get_file()
            return bytes(await file.download_as_bytearray())
        if candidate is not message and (candidate.text or candidate.caption):
            return candidate.text or candidate.caption
    return None


async def delete_message(message: TelegramMessage | None) -> bool:
    """Delete the user's own message (one holding a key); False when Telegram refuses (too old, no rights)."""
    if message is None:
        return False
    try:
        return bool(await message.delete())
    except tg_error.TelegramError as exc:
        log.info("telegram_delete_refused", error=exc.message)
        return False


async def attached_file(message: TelegramMessage | None, limit: int) -> tuple[bytes, str] | None:
    """The photo (its largest size) or file sent with, or replied to by, ``message``: (bytes, name)."""
    if message is None:
        return None
    for candidate in (message, message.reply_to_message):
        if candidate is None:
            continue
        item: PhotoSize | Document
        if candidate.photo:
            item, name = candidate.photo[-1], "photo.jpg"
        elif candidate.document is not None:
            item, name = candidate.document, candidate.document.file_name or "file"
        else:
            continue
        if (item.file_size or 0) > limit:
            raise file_too_big(limit, "upload limit")
        file = await item.get_file()
        return bytes(await file.download_as_bytearray()), name
    return None


def build_application(
    core: Core,
    registry: Registry,
    *,
    token: str,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> Application:
    """The bot, with every registry command wired, the command menu set on start-up, and rate limits.

    ``AIORateLimiter`` keeps under Telegram's flood limits and waits out a 429 ``retry_after``
    (up to ``RATE_LIMIT_RETRIES`` times) instead of dropping the message. ``request`` and
    ``get_updates_request`` replace the HTTP layer (tests record calls through them).
    """
    transport = TelegramTransport(core, registry)
    builder = (
        Application.builder()
        .token(token)
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(64)  # one user's chart must not hold up everyone else
        .post_init(transport.post_init)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app = builder.build()
    transport.install(app)
    core.notifiers["telegram"] = transport.notifier(app)
    core.stars = payments.TelegramStars(app.bot)  # /refund's refundStarPayment, from any transport
    return app


async def _start_webhook(core: Core, app: Application, url: str, secret: str) -> None:
    """Updates from the API's server (``api.webhooks.telegram``: the secret checked before the body
    is read, the body capped) handed to the Application's queue, then Telegram told where to post."""
    from bots.telegram.webhook import PLATFORM, receiver

    core.receivers[PLATFORM] = receiver(app, secret=secret, max_bytes=core.settings.telegram_webhook_max_bytes)
    log.info("telegram_webhook_receiving", path=urlparse(url).path, port=core.settings.api_port)
    await app.bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))


async def serve(core: Core, registry: Registry, stop: asyncio.Event) -> None:
    """Run the bot (polling, or a webhook when ``TELEGRAM_MODE=webhook``) until ``stop`` is set."""
    settings = core.settings
    if settings.telegram_token is None:
        raise ValueError("TELEGRAM_TOKEN is not set")
    token = settings.telegram_token.get_secret_value()
    register_secret(token)
    app = build_application(core, registry, token=token)
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        updater = app.updater
        assert updater is not None
        if settings.telegram_mode == "webhook":
            url = settings.telegram_webhook_url
            if not url:
                raise ValueError("TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL (the public HTTPS URL)")
            if settings.telegram_webhook_secret is not None:
                secret = settings.telegram_webhook_secret.get_secret_value()
            else:
                secret = secrets.token_urlsafe(32)
                log.warning(
                    "telegram_webhook_secret_generated",
                    detail="set TELEGRAM_WEBHOOK_SECRET for stable restarts",
                )
            register_secret(secret)
            await _start_webhook(core, app, url, secret)
        else:
            await updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
        await app.start()
        log.info("telegram_started", mode=settings.telegram_mode, bot=app.bot.username)
        await stop.wait()
    finally:
        core.receivers.pop(PLATFORM, None)  # the route answers 503 from now on: Telegram retries
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("telegram_stopped")
