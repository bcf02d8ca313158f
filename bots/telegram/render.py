"""A ``Message`` as Telegram messages.

Message text is plain: here it is HTML-escaped (so ``<b>``, ``&``, ``*`` or ``_`` typed by a user or
found in data can never break the formatting) and sent with ``parse_mode=HTML``; the first line of a
multi-line reply is bold. Telegram caps a message at 4,096 characters and a caption at 1,024 (counted
in UTF-16 units): longer texts are split on line boundaries, and a reply whose text does not fit a
photo caption is sent as the photo with its short ``Image.caption`` followed by the text. Several
images go out as media groups. An image Telegram would refuse as a photo (``PHOTO_INVALID_DIMENSIONS``:
width + height over 10,000 or sides over 20:1; or over 10 MB) goes out as a document instead.
Buttons become an inline keyboard whose ``callback_data`` is an opaque ``ButtonStore`` token bound
to the user who asked.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from telegram import (
    Bot,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    LabeledPrice,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram import (
    Message as TelegramMessage,
)
from telegram import error as tg_error
from telegram.constants import ParseMode

from core.logging import get_logger
from core.media.sniff import image_size, sniff
from core.message import Button, Document, Image, Invoice, Message

log = get_logger(__name__)

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
COPY_TEXT_LIMIT = 256  # characters a copy_text button may copy
MEDIA_GROUP_MAX = 10
BUTTONS_PER_ROW = 8
BUTTONS_MAX = 100
_BOLD = len("<b></b>")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# sendPhoto's limits (Bot API): larger or odder images must go as documents
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000  # width + height
PHOTO_MAX_RATIO = 20  # longer side over shorter side


def fits_photo(data: bytes) -> bool:
    """Whether Telegram accepts ``data`` as a photo, judged from its size and its header.

    An image whose header cannot be read is left to Telegram (sent as a photo, as before).
    """
    if len(data) > PHOTO_MAX_BYTES:
        return False
    size = image_size(data)
    if size is None:
        return True
    width, height = size
    return width + height <= PHOTO_MAX_SIDES and max(width, height) <= PHOTO_MAX_RATIO * min(width, height)


def photos_or_documents(reply: Message) -> Message:
    """``reply`` with each image Telegram would refuse as a photo moved to its files (documents)."""
    refused = [image for image in reply.images if not fits_photo(image.data)]
    if not refused:
        return reply
    documents = [
        Document(image.data, image.filename, image.caption, mime=sniff(image.data) or "application/octet-stream")
        for image in refused
    ]
    kept = [image for image in reply.images if fits_photo(image.data)]
    return dataclasses.replace(reply, images=kept, files=[*documents, *reply.files])


def escape(text: str) -> str:
    """Plain text made safe for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # Telegram counts UTF-16 code units


def _cost(char: str) -> int:
    """Size of ``char`` once escaped."""
    if char == "&":
        return 5
    if char in "<>":
        return 4
    return _units(char)


def size(html_text: str) -> int:
    """Length of already-escaped text as Telegram counts it (an upper bound after parsing)."""
    return sum(_units(c) for c in html_text)


def _escaped_size(raw: str) -> int:
    return sum(_cost(c) for c in raw)


def _split_line(line: str, budget: int) -> list[str]:
    """Cut one over-long line into raw pieces that each escape to at most ``budget``, at spaces if possible."""
    pieces: list[str] = []
    while _escaped_size(line) > budget:
        cost, cut, space = 0, 0, 0
        for i, char in enumerate(line):
            cost += _cost(char)
            if cost > budget:
                break
            cut = i + 1
            if char == " ":
                space = i + 1
        if space > cut // 2:
            cut = space
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces


def html_chunks(text: str, limit: int = MESSAGE_LIMIT, *, bold_first: bool = True) -> list[str]:
    """``text`` escaped into HTML messages of at most ``limit`` units each, split on line boundaries.

    The first line of a multi-line text is bold. Lines longer than ``limit`` on their own are cut at
    a space (or anywhere, if they have none). Empty chunks are dropped, so blank text gives ``[]``.
    """
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    bold = bold_first and len(lines) > 1 and bool(lines[0].strip())
    html_lines: list[str] = []
    for index, line in enumerate(lines):
        if index == 0 and bold and _escaped_size(line) + _BOLD <= limit:
            html_lines.append(f"<b>{escape(line)}</b>")
            continue
        if is_caret(line) and html_lines and index > 0 and _escaped_size(lines[index - 1] + line) + _PRE < limit:
            # a script error's source line and the caret under it: monospaced, or the caret points elsewhere
            html_lines[-1] = f"<pre>{escape(lines[index - 1])}\n{escape(line)}</pre>"
            continue
        html_lines.extend(escape(piece) for piece in _split_line(line, limit))
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece in html_lines:
        need = size(piece) + (1 if current else 0)
        if current and used + need > limit:
            chunks.append("\n".join(current))
            current, used = [piece], size(piece)
        else:
            current.append(piece)
            used += need
    if current:
        chunks.append("\n".join(current))
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


_CARET = re.compile(r"^\s*\^\s*$")
_PRE = len("<pre></pre>") + 1


def is_caret(line: str) -> bool:
    """A line holding only a caret (``^``) under a quoted source line."""
    return bool(_CARET.match(line))


def fit_html(text: str, limit: int) -> str:
    """``text`` escaped into one piece of at most ``limit`` units, cut with an ellipsis when needed."""
    chunks = html_chunks(text, limit)
    if len(chunks) <= 1:
        return chunks[0] if chunks else ""
    cost, cut = 0, 0
    for i, char in enumerate(text):
        cost += _cost(char)
        if cost > limit - 1:
            break
        cut = i + 1
    return escape(text[:cut].rstrip()) + "…"


_CODE = re.compile(r"(<pre>.*?</pre>|<code>.*?</code>)", re.S)
_UTC_TIME = re.compile(r"\b(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}) UTC\b")


def local_times(html_text: str) -> str:
    """Times the core writes as ``2026-12-07 09:00 UTC``, shown in each reader's own time zone and
    format (Telegram's date-time entity); clients that predate it show the UTC text as it is."""

    def tagged(found: re.Match[str]) -> str:
        try:
            year, month, day, hour, minute = (int(part) for part in found.groups())
            at = datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:  # not a real time (a user's own text shaped like one): left alone
            return found.group(0)
        return f'<tg-time unix="{int(at.timestamp())}" format="dt">{found.group(0)}</tg-time>'

    # Telegram nests no entity in a code block: a time inside one (a script's line) stays text
    parts = _CODE.split(html_text)
    return "".join(part if index % 2 else _UTC_TIME.sub(tagged, part) for index, part in enumerate(parts))


def caption_for(text: str, fallback: str) -> tuple[str, bool]:
    """The HTML caption for a photo, and whether it carries the whole ``text``.

    The full text when it fits a caption; otherwise the image's own short caption (the text then
    follows as messages).
    """
    chunks = html_chunks(text, CAPTION_LIMIT)
    if len(chunks) <= 1:
        return local_times(chunks[0] if chunks else fit_html(fallback, CAPTION_LIMIT)), True
    return fit_html(fallback, CAPTION_LIMIT), False


def keyboard(
    rows: Sequence[Sequence[Button]],
    bind: Callable[[Button], str],
    *,
    extra: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup | None:
    """Inline keyboard for ``rows``; ``bind(button)`` returns the callback token for one button."""
    keys: list[list[InlineKeyboardButton]] = []
    count = 0
    for row in rows:
        out: list[InlineKeyboardButton] = []
        for button in row:
            if count >= BUTTONS_MAX:
                break
            if button.copies is not None:  # copies its text on the user's device: nothing to bind
                out.append(InlineKeyboardButton(button.label, copy_text=CopyTextButton(button.copies[:COPY_TEXT_LIMIT])))
                count += 1
                continue
            token = bind(button)
            if not token:  # the button store is unavailable: the reply goes without it
                continue
            if len(token.encode()) > CALLBACK_DATA_LIMIT:
                log.warning("telegram_button_dropped", label=button.label, reason="callback data too long")
                continue
            style = button.style.value if button.style is not None else None  # Telegram's names are ours
            out.append(InlineKeyboardButton(button.label or button.command, callback_data=token, style=style))
            count += 1
        keys.extend(out[i : i + BUTTONS_PER_ROW] for i in range(0, len(out), BUTTONS_PER_ROW))
    keys.extend(list(row) for row in extra if row)
    return InlineKeyboardMarkup(keys) if keys else None


def _reply_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


async def send_html(
    bot: Bot,
    chat_id: int | str,
    chunks: Sequence[str],
    *,
    markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
    thread_id: int | None = None,
) -> list[TelegramMessage]:
    """Send already-escaped HTML chunks; the keyboard goes under the last one."""
    sent: list[TelegramMessage] = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        sent.append(
            await bot.send_message(
                chat_id,
                local_times(chunk),
                parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW,
                reply_markup=markup if last else None,
                reply_parameters=_reply_to(reply_to) if index == 0 else None,
                message_thread_id=thread_id,
            )
        )
    return sent


async def send_reply(
    bot: Bot,
    chat_id: int | str,
    reply: Message,
    *,
    markup: InlineKeyboardMarkup | None = None,
    reply_to: int | None = None,
    thread_id: int | None = None,
) -> list[TelegramMessage]:
    """Deliver ``reply`` to ``chat_id``: text messages, a photo, or media groups, then the text;
    its files follow as documents, and its invoice last."""
    reply = photos_or_documents(reply)
    sent = await _send_content(bot, chat_id, reply, markup=markup, reply_to=reply_to, thread_id=thread_id)
    if reply.invoice is not None:
        try:
            sent.append(await send_invoice(bot, chat_id, reply.invoice, thread_id=thread_id))
        except tg_error.BadRequest as exc:  # the order stays pending and expires unpaid; the buyer learns why
            log.warning("telegram_invoice_refused", error=exc.message)
            refused = f"Telegram refused the payment invoice ({exc.message[:200]}): please tell the bot's admins."
            sent += await send_html(bot, chat_id, [escape(refused)], thread_id=thread_id)
    for document in reply.files:
        sent.append(
            await bot.send_document(
                chat_id,
                document.data,
                filename=document.filename,
                caption=fit_html(document.caption, CAPTION_LIMIT) or None,
                parse_mode=ParseMode.HTML,
                message_thread_id=thread_id,
            )
        )
    return sent


async def send_invoice(bot: Bot, chat_id: int | str, invoice: Invoice, *, thread_id: int | None = None) -> TelegramMessage:
    """A Stars invoice: ``sendInvoice`` for a one-off payment; for a subscription, a link from
    ``createInvoiceLink`` with its ``subscription_period`` (Telegram makes subscription invoices only
    that way) behind a pay button. Stars take an empty provider token and exactly one price."""
    prices = [LabeledPrice(invoice.label, invoice.amount)]
    if invoice.subscription_period:
        link = await bot.create_invoice_link(
            invoice.title, invoice.description, invoice.payload, invoice.currency, prices, provider_token="",
            subscription_period=invoice.subscription_period,
        )
        days = invoice.subscription_period // 86_400
        pay = InlineKeyboardButton(f"Subscribe: ⭐{invoice.amount:,} / {days} days", url=link, style="primary")
        return await bot.send_message(
            chat_id, f"<b>{escape(invoice.title)}</b>\n{escape(invoice.description)}", parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup([[pay]]), link_preview_options=_NO_PREVIEW, message_thread_id=thread_id,
        )
    return await bot.send_invoice(
        chat_id, invoice.title, invoice.description, invoice.payload, invoice.currency, prices, provider_token="",
        message_thread_id=thread_id,
    )


async def _send_content(
    bot: Bot,
    chat_id: int | str,
    reply: Message,
    *,
    markup: InlineKeyboardMarkup | None,
    reply_to: int | None,
    thread_id: int | None,
) -> list[TelegramMessage]:
    chunks = html_chunks(reply.text)
    if not reply.images:
        if not chunks and markup is not None:
            chunks = ["Options:"]
        return await send_html(bot, chat_id, chunks, markup=markup, reply_to=reply_to, thread_id=thread_id)
    if len(reply.images) == 1:
        image = reply.images[0]
        caption, complete = caption_for(reply.text, image.caption)
        message = await bot.send_photo(
            chat_id,
            image.data,
            filename=image.filename,
            caption=caption or None,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=_reply_to(reply_to),
            message_thread_id=thread_id,
        )
        rest = [] if complete else await send_html(bot, chat_id, chunks, thread_id=thread_id)
        return [message, *rest]
    sent = await _send_albums(bot, chat_id, reply.images, reply_to=reply_to, thread_id=thread_id)
    if not chunks and markup is not None:
        chunks = ["Options:"]
    return sent + await send_html(bot, chat_id, chunks, markup=markup, thread_id=thread_id)


async def _send_albums(
    bot: Bot, chat_id: int | str, images: Sequence[Image], *, reply_to: int | None, thread_id: int | None
) -> list[TelegramMessage]:
    sent: list[TelegramMessage] = []
    for start in range(0, len(images), MEDIA_GROUP_MAX):
        batch = images[start : start + MEDIA_GROUP_MAX]
        quote = _reply_to(reply_to) if start == 0 else None
        if len(batch) == 1:  # a media group needs two to ten items
            image = batch[0]
            sent.append(
                await bot.send_photo(
                    chat_id,
                    image.data,
                    filename=image.filename,
                    caption=fit_html(image.caption, CAPTION_LIMIT) or None,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=quote,
                    message_thread_id=thread_id,
                )
            )
            continue
        media = [
            InputMediaPhoto(
                image.data,
                filename=image.filename,
                caption=fit_html(image.caption, CAPTION_LIMIT) or None,
                parse_mode=ParseMode.HTML,
            )
            for image in batch
        ]
        sent.extend(
            await bot.send_media_group(chat_id, media, reply_parameters=quote, message_thread_id=thread_id)
        )
    return sent


async def edit_photo(
    bot: Bot, message: TelegramMessage, reply: Message, *, markup: InlineKeyboardMarkup | None = None
) -> TelegramMessage:
    """Re-render ``message`` (a photo) in place with the reply's one image, caption and keyboard.

    When the text does not fit a caption, the photo gets the image's short caption and the text
    follows as new messages. Raises ``telegram.error.TelegramError`` when Telegram refuses the edit.
    """
    image = reply.images[0]
    if not fits_photo(image.data):  # no photo can hold it: the caller answers anew, as a document
        raise tg_error.BadRequest("Photo_invalid_dimensions")
    caption, complete = caption_for(reply.text, image.caption)
    media = InputMediaPhoto(
        image.data, filename=image.filename, caption=caption or None, parse_mode=ParseMode.HTML
    )
    edited = await bot.edit_message_media(
        media, chat_id=message.chat_id, message_id=message.message_id, reply_markup=markup
    )
    if not complete:
        await send_html(bot, message.chat_id, html_chunks(reply.text), thread_id=_thread(message))
    return edited if isinstance(edited, TelegramMessage) else message


async def edit_text(
    bot: Bot, message: TelegramMessage, reply: Message, *, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Replace ``message`` (the text whose button was pressed) with a text-only reply that fits one
    message, keyboard included: a page turns, a confirmation becomes its outcome, and the buttons
    just pressed are gone. False when the reply does not fit (the caller answers anew). Raises
    ``telegram.error.TelegramError`` when Telegram refuses the edit."""
    chunks = html_chunks(reply.text)
    if reply.images or reply.files or reply.invoice is not None or len(chunks) != 1:
        return False
    await bot.edit_message_text(local_times(chunks[0]), chat_id=message.chat_id, message_id=message.message_id,
                                parse_mode=ParseMode.HTML, reply_markup=markup)  # fmt: skip
    return True


def _thread(message: TelegramMessage) -> int | None:
    return message.message_thread_id if message.is_topic_message else None
