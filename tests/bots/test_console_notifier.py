"""Alerts in the console chat: printed, images written next to the replies' images."""

from __future__ import annotations

import io

from bots.console.notifier import ConsoleNotifier
from core.message import Image, Message
from core.notify import ChatTarget


async def test_console_alert_is_printed_with_its_image_and_buttons(tmp_path):
    out = io.StringIO()
    notifier = ConsoleNotifier(tmp_path, out)
    notice = Message.with_commands(
        "BBCA crossed rsi<30", (Image(b"\x89PNG fake", "bbca.png"),), (("Chart", "/market BBCA"),)
    )
    assert await notifier.send(ChatTarget("console", "alice"), notice)
    text = out.getvalue()
    assert "[alert for alice] BBCA crossed rsi<30" in text and "[Chart] /market BBCA" in text
    assert (tmp_path / "alert_0_bbca.png").read_bytes() == b"\x89PNG fake"
