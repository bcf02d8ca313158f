"""A ``Message`` as Discord messages: a card of components, or embeds; attached images and token buttons.

Which of the two follows the message's shape alone (commands never choose, and nothing is forked
per transport): a reply that shows an image (a /market quote, a /run backtest, a /bandar summary,
an alert's chart) is a *card*: one Components V2 container (message flag ``IS_COMPONENTS_V2``)
holding its heading and figures as text, the charts in a media gallery, its files (a trades CSV)
as file components and its buttons at the bottom: the chart, its numbers and what to do next in
one frame, where an embed leaves the buttons hanging under it and the file outside it. A card is
chosen when the reply is not a refusal and its text fits the 4,000 characters a components message
displays; everything else (text replies, errors, long reports) stays an embed, whose text may run
on into further messages. A card cannot turn back into embeds (Discord keeps the flag), so a
button pressed under a card re-renders its answer as a card too (``render(card=True)``).

Embeds: the first line of the reply becomes the embed title, the rest its description (escaped:
replies are plain text). Text longer than one embed continues in further messages (``pages[1:]``);
the images and the buttons stay on the first one, so editing that message re-renders a reply in
place. Error replies are red.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bots.discord.buttons import TokenButton
from core.message import Button, ButtonStyle, Document, Image, Message

COLOUR = discord.Colour(0x2F80ED)
ERROR_COLOUR = discord.Colour.red()
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_EMBEDS = 10  # per message, and so at most this many images (one per embed)
MAX_PAGES = 5  # longer replies are cut: nobody scrolls through more in a chat
BUTTONS_PER_ROW = 5
MAX_ROWS = 5
STYLES = {ButtonStyle.PRIMARY: discord.ButtonStyle.primary, ButtonStyle.DANGER: discord.ButtonStyle.danger,
          ButtonStyle.SUCCESS: discord.ButtonStyle.success}  # fmt: skip
TRUNCATED = "\n… (cut: too long for Discord)"
# Components V2 (cards): Discord's limits for one message
IS_COMPONENTS_V2 = 1 << 15
MAX_CARD_TEXT = 4000  # every text display of the message together
MAX_COMPONENTS = 40  # every component, nested ones included
MAX_GALLERY = 10  # items in one media gallery
MAX_MEDIA_DESCRIPTION = 1024
CARD_HEADING = "### "  # the title line as a heading, where an embed has its title
# a card's body: what the text display holds besides the heading (the title at its longest)
CARD_BODY = MAX_CARD_TEXT - len(CARD_HEADING) - MAX_TITLE - 1


@dataclass(slots=True)
class Page:
    """One message's worth: pass ``send_kwargs()`` or ``edit_kwargs()`` to discord.py.

    A card page has ``layout`` (a ``LayoutView``: discord.py then sets ``IS_COMPONENTS_V2``) and no
    embeds; its images and documents are attached and shown through the layout's components."""

    embeds: list[discord.Embed]
    images: list[Image] = field(default_factory=list)  # already renamed to their attachment names
    view: discord.ui.View | None = None
    documents: list[Document] = field(default_factory=list)  # attached as downloads, not embedded
    layout: discord.ui.LayoutView | None = None

    def files(self) -> list[discord.File]:
        """Fresh ``discord.File`` objects (each can be sent once)."""
        return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in self.images] + [
            discord.File(io.BytesIO(doc.data), filename=doc.filename, description=doc.caption[:1024] or None)
            for doc in self.documents
        ]

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"view": self.layout} if self.layout is not None else {"embeds": self.embeds}
        if self.images or self.documents:
            kwargs["files"] = self.files()
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Replace everything: the embeds, the attachments (none clears old ones) and the view. A card
        replacing an embed message clears its text and embeds, as Discord asks when the flag is set."""
        if self.layout is not None:
            return {"content": None, "embeds": [], "attachments": self.files(), "view": self.layout}
        return {"embeds": self.embeds, "attachments": self.files(), "view": self.view}


def render(
    reply: Message, *, bind: Callable[[Button], str] | None = None, card: bool | None = None
) -> list[Page]:
    """The messages showing ``reply``; ``bind(button)`` gives each button's token (from
    ``ButtonStore.binder``, bound to the user the reply is for); without it, no buttons.

    ``card``: None decides from the reply's shape (``is_card``); True makes a card whatever the
    shape (re-rendering in place of a card, which cannot become embeds again)."""
    if card or (card is None and is_card(reply)):
        return _card(reply, bind)
    colour = ERROR_COLOUR if reply.error else COLOUR
    title, chunks = _layout(reply.text)
    if not title and not chunks[0] and not reply.images:
        chunks[0] = "…"  # Discord refuses an empty embed
    first = discord.Embed(title=title or None, description=chunks[0] or None, colour=colour)
    embeds = [first]
    images = _attachments(reply.images[:MAX_EMBEDS])
    for index, image in enumerate(images):
        embed = first if index == 0 else discord.Embed(colour=colour)
        embed.set_image(url=f"attachment://{image.filename}")
        if index:
            embeds.append(embed)
    view = None
    if reply.buttons and bind is not None:
        view = button_view(reply.buttons, bind)
    documents = _documents(reply.files, {image.filename for image in images})
    pages = [Page(embeds=embeds, images=images, view=view, documents=documents)]
    pages += [Page(embeds=[discord.Embed(description=chunk, colour=colour)]) for chunk in chunks[1:]]
    return pages


def is_card(reply: Message) -> bool:
    """A reply shown as a card: a result with a picture (a chart and the figures around it) whose
    text fits one components message. Refusals stay red embeds; text-only replies stay embeds."""
    if reply.error or not reply.images:
        return False
    _, chunks = _layout(reply.text, CARD_BODY)
    return len(chunks) == 1 and _components(reply) <= MAX_COMPONENTS


def _components(reply: Message) -> int:
    """The most components ``reply``'s card can take: container, text, gallery, a file component
    per document, and a separator over the button rows (rows and buttons as laid out, at most)."""
    buttons = [button for row in reply.buttons for button in row]
    rows = min(MAX_ROWS, sum(-(-len(row) // BUTTONS_PER_ROW) for row in reply.buttons))
    shown = min(len(buttons), rows * BUTTONS_PER_ROW)
    return 3 + len(reply.files) + (1 + rows + shown if buttons else 0)


def _card(reply: Message, bind: Callable[[Button], str] | None) -> list[Page]:
    """One container: heading and figures (a text display), the images (a media gallery), the
    files (file components), then the buttons; text beyond the first card continues in embeds."""
    colour = ERROR_COLOUR if reply.error else COLOUR
    title, chunks = _layout(reply.text, CARD_BODY)
    heading = f"{CARD_HEADING}{title}" if title else ""
    text = "\n".join(part for part in (heading, chunks[0]) if part)
    images = _attachments(reply.images[:MAX_GALLERY])
    documents = _documents(reply.files, {image.filename for image in images})
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(accent_colour=colour)
    if text or not images:
        container.add_item(discord.ui.TextDisplay(text or "…"))
    if images:
        container.add_item(discord.ui.MediaGallery(*(
            discord.MediaGalleryItem(f"attachment://{image.filename}",
                                        description=image.caption[:MAX_MEDIA_DESCRIPTION] or None)
            for image in images
        )))  # fmt: skip
    rows = _button_rows(reply.buttons, bind) if bind is not None else []
    # what the buttons leave of the 40 components: the layout's own, one separator, the rows
    room = (
        MAX_COMPONENTS - 1 - len(container.children) - (1 + sum(1 + len(row) for row in rows) if rows else 0)
    )
    shown, rest = documents[: max(0, room)], documents[max(0, room) :]  # ``rest``: only in a forced card
    for doc in shown:
        container.add_item(discord.ui.File(f"attachment://{doc.filename}"))
    if rows:
        container.add_item(discord.ui.Separator())
        for row in rows:
            container.add_item(discord.ui.ActionRow(*row))
    layout = discord.ui.LayoutView(timeout=None)
    layout.add_item(container)
    pages = [Page(embeds=[], images=images, documents=shown, layout=layout)]
    pages += [Page(embeds=[discord.Embed(description=chunk, colour=colour)]) for chunk in chunks[1:]]
    if rest:  # files the card had no room for follow as downloads of their own message
        pages.append(Page(embeds=[discord.Embed(description="Files", colour=colour)], documents=rest))
    return pages


def button_view(rows: Sequence[Sequence[Button]], bind: Callable[[Button], str]) -> discord.ui.View | None:
    """A view of ``TokenButton``s (at most 5 rows of 5), each carrying the token ``bind`` gives it."""
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(_button_rows(rows, bind)):
        for button in row:
            button.row = row_index
            view.add_item(button)
    return view if view.children else None


def _button_rows(rows: Sequence[Sequence[Button]], bind: Callable[[Button], str]) -> list[list[TokenButton]]:
    """``TokenButton`` rows as Discord shows them: at most 5 rows of 5; more rows than that (one
    group per row in /share's list) are packed, so none is dropped."""
    if sum(-(-len(row) // BUTTONS_PER_ROW) for row in rows) > MAX_ROWS:
        every = [button for row in rows for button in row]
        rows = [every[i : i + BUTTONS_PER_ROW] for i in range(0, len(every), BUTTONS_PER_ROW)]
    built: list[list[TokenButton]] = []
    for row in rows:
        for start in range(0, len(row), BUTTONS_PER_ROW):
            if len(built) >= MAX_ROWS:
                return built
            line = []
            for button in row[start : start + BUTTONS_PER_ROW]:
                if token := bind(button):  # "": the button store is unavailable, the reply goes without it
                    style = STYLES[button.style] if button.style else discord.ButtonStyle.secondary
                    line.append(TokenButton(token, button.label, style=style))
            if line:
                built.append(line)
    return built


def _layout(text: str, limit: int = MAX_DESCRIPTION) -> tuple[str, list[str]]:
    """(title, description chunks of at most ``limit``): the first line is the title when it fits one."""
    text = text.strip("\n")
    head, _, rest = text.partition("\n")
    title = discord.utils.escape_markdown(head.strip())
    if len(title) > MAX_TITLE:  # a long first line stays in the body, whole
        title, rest = "", text
    chunks = _split(_escape_body(rest.strip("\n")), limit)
    if len(chunks) > MAX_PAGES:
        chunks = chunks[:MAX_PAGES]
        chunks[-1] = chunks[-1][: limit - len(TRUNCATED)] + TRUNCATED
    return title, chunks


def _escape_body(text: str) -> str:
    """Markdown-escaped text, but a script error's source line and its caret go in a code block
    (monospaced, so the caret points at the right character)."""
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if line.strip() and nxt.strip() == "^":
            continue  # emitted with its caret below
        if line.strip() == "^" and index > 0 and lines[index - 1].strip():
            source = lines[index - 1].replace("`", "\u02cb")  # no fence can be closed from user text
            out.append(f"```\n{source}\n{line}\n```")
            continue
        out.append(discord.utils.escape_markdown(line))
    return "\n".join(out)


def _split(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at line breaks where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single overlong line: cut it, not after a lone backslash
            cut = limit - 1 if line[limit - 1] == "\\" else limit
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    chunks.append(current)
    return chunks


def _attachments(images: Sequence[Image]) -> list[Image]:
    """The images under unique, safe attachment names (``attachment://`` needs plain names)."""
    seen: set[str] = set()
    named = []
    for index, image in enumerate(images):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", image.filename).lstrip("._") or f"image{index}.png"
        if "." not in name:
            name += ".png"
        if name in seen:
            stem, _, ext = name.rpartition(".")
            name = f"{stem}_{index}.{ext}"
        seen.add(name)
        named.append(Image(image.data, name, image.caption))
    return named


def _documents(files: Sequence[Document], taken: set[str]) -> list[Document]:
    """The files under safe names that no image already uses."""
    named = []
    for index, doc in enumerate(files):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", doc.filename).lstrip("._") or f"file{index}.csv"
        if name in taken:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}_{index}.{ext}" if dot else f"{name}_{index}"
        taken.add(name)
        named.append(Document(doc.data, name, doc.caption, doc.mime))
    return named
