"""bots.attachments: inline text or the replied-to message/file, code fences stripped."""

from __future__ import annotations

from types import SimpleNamespace

from bots.attachments import attached_text, given_or_attached, strip_fence


def _ctx(payload):
    async def loader():
        return payload

    return SimpleNamespace(extras={} if payload is None else {"attached_text": loader})


def test_strip_fence():
    assert strip_fence("```python\nbuy = close > open\n```") == "buy = close > open"
    assert strip_fence("plain") == "plain" and strip_fence(None) == ""  # type: ignore[arg-type]


async def test_inline_text_wins_and_an_empty_one_falls_back_to_the_attachment():
    assert await given_or_attached(_ctx("ignored"), "```\nx\n```") == "x"
    assert await given_or_attached(_ctx("```\nfrom file\n```"), "  ") == "from file"
    assert await given_or_attached(_ctx(None), "") is None


async def test_bytes_are_decoded_only_when_asked_and_bad_utf8_passes_on():
    assert await attached_text(_ctx(b"```\nbuy = true\n```")) == "buy = true"
    assert await attached_text(_ctx(b"\xff\xfe")) == b"\xff\xfe"  # the parser names the bad byte
    assert await attached_text(_ctx(b"a,b\n1,2"), decode=False) == b"a,b\n1,2"  # CSV bytes for import_csv
