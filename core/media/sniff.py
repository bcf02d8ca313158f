"""Content types are decided from the bytes, never from a name or a header the user sent.

Only formats the bot can show or hand back safely are accepted: PNG, JPEG, GIF, WEBP, PDF and
plain UTF-8 text. Anything else (HTML, SVG with scripts, executables, archives) is refused.
"""

from __future__ import annotations

from core.errors import Invalid

ALLOWED = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain")
IMAGES = frozenset(ALLOWED[:4])
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
}
_TEXT_CONTROLS_OK = {"\t", "\n", "\r", "\f"}


def sniff(data: bytes) -> str | None:
    """The content type of ``data`` by its magic bytes, or None when it is none of ``ALLOWED``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if _is_text(data):
        return "text/plain"
    return None


def _is_text(data: bytes) -> bool:
    """UTF-8 (a BOM allowed) without control characters other than tabs and line breaks.

    Markup is refused even though it is text: HTML or SVG handed back could run in a browser.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    if any((ord(ch) < 32 and ch not in _TEXT_CONTROLS_OK) or ord(ch) == 127 for ch in text):
        return False
    head = text.lstrip()[:256].lower()
    return not head.startswith(("<!doctype", "<html", "<svg", "<?xml", "<script"))


def require_type(data: bytes) -> str:
    """The sniffed content type, or Invalid naming what is accepted."""
    if not data:
        raise Invalid("the upload is empty")
    found = sniff(data)
    if found is None:
        raise Invalid(
            "that file type is not accepted", hint="send a PNG, JPEG, GIF, WEBP, PDF or plain text file"
        )
    return found
