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
UNKNOWN_EXTENSION = "bin"


def extension_of(content_type: str) -> str:
    """The file extension a file of ``content_type`` is served with: from the sniffed type only,
    never from a name a user gave (``.html`` or ``.svg`` would let a polyglot run in a browser)."""
    return EXTENSIONS.get(content_type, UNKNOWN_EXTENSION)


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


# -- image dimensions, read from the header alone ------------------------------------------------

_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, WEBP or JPEG from its header, or None when unreadable.

    Platforms refuse some images by their dimensions (Telegram photos: width + height <= 10,000,
    sides at most 20:1): this lets a transport choose another way to send them without decoding.
    """
    if len(data) >= 24 and data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return _positive(int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big"))
    if len(data) >= 10 and data.startswith((b"GIF87a", b"GIF89a")):
        return _positive(int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little"))
    if len(data) >= 30 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return _positive(int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width-1 and height-1
        bits = int.from_bytes(data[21:25], "little")
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: after the key frame's start code
        return _positive(
            int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
        )
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's marker segments to the first frame header (SOFn), which holds the size."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_SOF:
            return _positive(int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big"))
        if length < 2 or marker == 0xDA:  # a broken segment, or image data before any frame header
            return None
        at += 2 + length
    return None
