"""``stoxlify run``: the configured transports and the jobs, in one process."""

from __future__ import annotations

from core.config import Settings
from core.logging import get_logger

log = get_logger(__name__)


async def run(settings: Settings) -> int:
    if settings.telegram_token is None and settings.discord_token is None:
        from bots.cli import DEFAULT_OUT
        from bots.console.transport import chat

        log.info("no_chat_token", detail="TELEGRAM_TOKEN and DISCORD_TOKEN are unset: starting the console chat")
        return await chat(DEFAULT_OUT)
    log.error(
        "transport_unavailable",
        detail="the Telegram and Discord transports are not part of this build yet; unset the tokens to use the console",
    )
    return 2
