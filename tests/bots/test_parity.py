"""Every registry command is reachable on Telegram, Discord and the console, with the same name."""

from __future__ import annotations

import discord
from telegram.ext import CommandHandler

from bots.commands import load
from bots.discord.client import build_client
from bots.registry import ArgKind
from bots.telegram.app import build_application, transport_of
from core.app import Core
from core.config import Settings


async def test_every_command_on_every_transport(tmp_path):
    registry = load()
    names = {command.name for command in registry}
    assert {"market", "search", "watch", "unwatch", "watchlist", "help", "start", "dict"} <= names

    core = await Core.start(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"))
    try:
        app = build_application(core, registry, token="123:abc")
        telegram_commands = {
            name
            for handlers in app.handlers.values()
            for handler in handlers
            if isinstance(handler, CommandHandler)
            for name in handler.commands
        }
        assert names <= telegram_commands
        transport = transport_of(app)
        menus = transport.menu(bot_admin=True) + transport.menu(groups=True, group_admin=True)
        assert names == {c.command for c in menus}  # a bot admin's and a group admin's menus hold them all

        client = build_client(core, registry)
        slash = {c.name for c in client.tree.get_commands(type=discord.AppCommandType.chat_input)}
        assert names == slash

        # The console parses through the registry itself: each command's usage is accepted.
        for command in registry:
            found, _ = registry.parse(f"/{command.name} " + " ".join(_sample_args(command)))
            assert found is command
    finally:
        await core.close()


def _sample_args(command) -> list[str]:
    samples = {"ticker": "BBCA", "query": "bank", "condition": "price>1", "command": "market", "share": "1"}
    def sample(arg) -> str:
        if arg.choices:
            return arg.choices[0]
        return "1" if arg.kind is ArgKind.INT else samples.get(arg.name, "x")

    return [sample(arg) for arg in command.args if arg.required]


async def test_every_commands_sample_line_runs_on_the_console(console):
    """Not only parsed: each command's sample line gets a real answer, never the bug reply."""
    bad = []
    for command in load():
        line = f"/{command.name} " + " ".join(_sample_args(command))
        reply = await console.handle(line)
        if "unknown command" in reply.text or "Something went wrong" in reply.text or not reply.text.strip():
            bad.append((line, reply.text[:200]))
    assert bad == []
