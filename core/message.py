"""What the bot says, independent of the transport that shows it.

One model for everything sent to a chat: a command's answer (``bots/commands``) and a job's alert
(``jobs/``, queued through ``core.outbox`` and pushed by a ``core.notify.Notifier``) are both a
``Message``; Telegram, Discord and the console each render it their own way.

The text is plain: transports escape it for their own markup. The collections are sequences:
a command builds lists, a job's alert tuples (it is queued and sent as it is); renderers only read.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Image:
    """A PNG (or other image) shown with a message."""

    data: bytes
    filename: str = "chart.png"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A file sent with a message as a download (a CSV export), not shown inline."""

    data: bytes
    filename: str
    caption: str = ""
    mime: str = "text/csv"


class ButtonStyle(StrEnum):
    """What a button means, where a platform colours it (Telegram's ``style``, Discord's button styles)."""

    PRIMARY = "primary"  # the main action: pay, join
    DANGER = "danger"  # destructive: remove, delete, stop for good
    SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class Button:
    """A button that runs ``command`` (a command line such as ``/market BBCA 1h``) when pressed."""

    label: str
    command: str
    public: bool = False  # anyone in the chat may press it, acting for themselves (/copy on a shared card)
    style: ButtonStyle | None = None  # None: an ordinary button
    copies: str | None = None  # a button that copies this text instead of running a command (Telegram's copy_text)

    @classmethod
    def copy(cls, label: str, text: str) -> Button:
        """A button that puts ``text`` (a link code, a file's reference) on the clipboard where the
        platform has such buttons; elsewhere it is left out, the text being in the message already."""
        return cls(label, "", copies=text)


@dataclass(frozen=True, slots=True)
class Invoice:
    """A payment asked for in the chat itself (Telegram Stars): one price item of ``amount`` in
    ``currency``; with ``subscription_period`` (seconds) it is charged again every period.
    Transports without in-chat payments never receive one (the command picks the provider by transport)."""

    title: str
    description: str
    payload: str
    currency: str
    label: str
    amount: int
    subscription_period: int | None = None


@dataclass(slots=True)
class Message:
    """Plain text plus optional images, files (``Document``: sent as downloads) and button rows.

    ``ephemeral`` asks for a private answer where the platform has one (Discord); ``error`` marks a
    refusal or a failure (shown in red on Discord; ``stoxlify say`` exits non-zero).
    """

    text: str
    images: Sequence[Image] = field(default_factory=list)
    files: Sequence[Document] = field(default_factory=list)
    buttons: Sequence[Sequence[Button]] = field(default_factory=list)
    ephemeral: bool = False
    error: bool = False
    invoice: Invoice | None = None  # sent after the text (Telegram: sendInvoice, or a link for a subscription)

    @classmethod
    def fail(cls, message: str, usage: str | None = None) -> Message:
        """A refusal or a failure, with the command's usage under it when the mistake was in the typing."""
        text = message if usage is None else f"{message}\nUsage: {usage}"
        return cls(text=text, error=True, ephemeral=True)

    @classmethod
    def crashed(cls, ref: str) -> Message:
        """The answer to a failure nobody foresaw: the reference of the logged traceback, nothing of it."""
        return cls.fail(went_wrong(ref))

    @classmethod
    def with_commands(
        cls,
        text: str,
        images: Iterable[Image] = (),
        commands: Iterable[tuple[str, str]] = (),
        public: bool = False,
    ) -> Message:
        """An alert as the outbox stores it: one row of ``(label, command line)`` buttons, all of them
        public (anyone in a group may press, each for themselves) or none. Tuples: it is sent as built."""
        row = tuple(Button(label, command, public=public) for label, command in commands)
        return cls(text, images=tuple(images), files=(), buttons=(row,) if row else ())

    @property
    def commands(self) -> tuple[tuple[str, str], ...]:
        """Every button as ``(label, command line)``, row after row: what the outbox stores and the console prints."""
        return tuple((button.label, button.command) for row in self.buttons for button in row)

    @property
    def public(self) -> bool:
        """Whether every button may be pressed by anyone in the chat (a shared card's /copy)."""
        buttons = [button for row in self.buttons for button in row]
        return bool(buttons) and all(button.public for button in buttons)


def went_wrong(ref: str) -> str:
    """The one text for an unexpected failure, on every transport: the user quotes ``ref`` to support."""
    return f"Something went wrong (ref {ref}). It has been logged; please try again later."


def new_ref() -> str:
    """A short reference that ties a user's "something went wrong" to the logged traceback."""
    return secrets.token_hex(3)
