"""Buttons whose ``custom_id`` is a ``ButtonStore`` token.

``TokenButton`` is a ``discord.ui.DynamicItem``: the client registers the class once, so a press
is handled however old the message is (even across restarts, as long as the store still holds
the token) without keeping a ``View`` per message in memory. The token says nothing by itself;
``bots.discord.commands.press`` resolves it against the presser, reached through the client
(``StoxlifyClient.press_token``) so that this module, which the renderer builds views from, never
imports the commands that render.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

import discord

from core.logging import get_logger
from core.state.buttons import TOKEN_PREFIX

log = get_logger(__name__)

MAX_LABEL = 80  # Discord's button label limit
# ButtonStore tokens: the prefix and URL-safe base64 (custom_id allows up to 100 characters).
TEMPLATE = rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{4,90}}"


def button_label(label: str) -> str:
    label = " ".join(label.split()) or "…"
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


@runtime_checkable
class PressHandler(Protocol):
    """A client that runs the command behind a pressed token button."""

    async def press_token(self, interaction: discord.Interaction, token: str) -> None: ...


class TokenButton(discord.ui.DynamicItem[discord.ui.Button], template=TEMPLATE):
    def __init__(self, token: str, label: str = "…", *, row: int | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:  # fmt: skip
        super().__init__(discord.ui.Button(label=button_label(label), custom_id=token, style=style), row=row)
        self.token = token

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> TokenButton:
        # the template matches only our buttons' custom ids, so ``item`` is a Button; typed as the base says
        if isinstance(item, discord.ui.Button):
            return cls(item.custom_id or "", item.label or "…")
        return cls(match.string)

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        if not isinstance(client, PressHandler):
            log.warning("discord_button_without_runtime")
            return
        await client.press_token(interaction, self.token)
