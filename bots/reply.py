"""What a command answers, independent of the transport that shows it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Image:
    """A PNG (or other image) attached to a reply."""

    data: bytes
    filename: str = "chart.png"
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A file sent with a reply as a download (a CSV export), not shown inline."""

    data: bytes
    filename: str
    caption: str = ""
    mime: str = "text/csv"


@dataclass(frozen=True, slots=True)
class Button:
    """A button that runs ``command`` (a command line such as ``/market BBCA 1h``) when pressed."""

    label: str
    command: str
    public: bool = False  # anyone in the chat may press it, acting for themselves (/copy on a shared card)


@dataclass(slots=True)
class Reply:
    """Plain text plus optional images, files (``Document``: sent as downloads) and button rows.

    ``text`` is plain: transports escape it for their own markup. ``ephemeral`` asks for a
    private answer where the platform has one (Discord); ``error`` marks a refusal or a
    failure so that ``stoxlify say`` exits non-zero.
    """

    text: str
    images: list[Image] = field(default_factory=list)
    files: list[Document] = field(default_factory=list)
    buttons: list[list[Button]] = field(default_factory=list)
    ephemeral: bool = False
    error: bool = False

    @classmethod
    def fail(cls, message: str, usage: str | None = None) -> Reply:
        text = message if usage is None else f"{message}\nUsage: {usage}"
        return cls(text=text, error=True, ephemeral=True)
