"""Drive the command registry from a terminal."""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bots.bootstrap import build
from bots.commands import load
from bots.registry import Context, Registry
from core.account.service import actor_for
from core.actor import Actor
from core.app import Core
from core.message import Document, Image, Message

PLATFORM = "console"


class Console:
    """One local user talking to the bot; images and files are written to ``out_dir``."""

    def __init__(self, core: Core, actor: Actor, out_dir: Path, registry: Registry | None = None) -> None:
        self.core = core
        self.actor = actor
        self.out_dir = out_dir
        self.registry = registry or load().bound(core.state.rate_limits)
        self._buttons: list[str] = []

    @classmethod
    async def open(cls, core: Core, out_dir: Path, registry: Registry | None = None) -> Console:
        user = getpass.getuser() or "console"
        actor = await actor_for(core.db, platform=PLATFORM, external_id=user, display_name=user)
        return cls(core, actor, out_dir, registry)

    async def handle(self, line: str) -> Message:
        line = line.strip()
        if line.isascii() and line.isdigit() and 0 < int(line) <= len(self._buttons):  # pressing a listed button
            line = self._buttons[int(line) - 1]
        ctx = Context(core=self.core, actor=self.actor, transport=PLATFORM)
        reply = await self.registry.dispatch(ctx, line)
        self._buttons = [b.command for row in reply.buttons for b in row if b.copies is None]
        return reply

    def show(self, reply: Message, stream: TextIO | None = None) -> list[Path]:
        stream = stream or sys.stdout  # looked up now: whatever stdout is when the reply comes
        print(reply.text, file=stream)
        written = [
            *self._write("image", reply.images, stream),
            *self._write("file", reply.files, stream),
        ]
        buttons = [b for row in reply.buttons for b in row if b.copies is None]  # a copy button copies what is shown
        if buttons:
            print("  " + "  ".join(f"[{i}] {b.label}" for i, b in enumerate(buttons, 1)), file=stream)
        return written

    def _write(self, kind: str, attachments: Sequence[Image | Document], stream: TextIO) -> list[Path]:
        """Each attachment (an image or a file alike: its bytes and name) saved to ``out_dir`` and listed."""
        if attachments:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for attachment in attachments:
            path = self.out_dir / _safe_name(attachment.filename)
            path.write_bytes(attachment.data)
            written.append(path)
            print(f"[{kind}] {path}", file=stream)
        return written


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return cleaned or "image.png"


async def say(line: str, out_dir: Path) -> int:
    from core.config import get_settings

    # one command and out: a process pool would only add its start-up to the answer
    app = await build(get_settings().model_copy(update={"compute": "inline"}))
    try:
        console = await Console.open(app.core, out_dir, app.registry)
        reply = await console.handle(line)
        console.show(reply)
        return 1 if reply.error else 0
    finally:
        await app.close()


DEFAULT_LOG = Path("var/stoxlify.log")


async def chat(out_dir: Path, log_file: Path | None = DEFAULT_LOG) -> int:
    """The terminal chat. Log lines (the scheduler's, the market's) go to ``log_file``, not into the
    conversation; alerts from the jobs are printed as they come."""
    from bots.console.notifier import ConsoleNotifier
    from core.logging import log_to_file

    if log_file is not None:
        log_to_file(log_file)
    app = await build()
    core = app.core
    core.notifiers[PLATFORM] = ConsoleNotifier(out_dir)
    scheduler = None
    try:
        if core.settings.jobs_enabled:  # deployments and watch alerts run here too, printed as they come
            from jobs.scheduler import start_scheduler

            scheduler = await start_scheduler(core)
        console = await Console.open(core, out_dir, app.registry)
        source = "sample data" if core.settings.sample_data else (
            "offline CSV data" if core.settings.market_offline else "live market data"
        )
        print(f"Stoxlify console ({source}). Type /help, a button number, or /quit. Images go to {out_dir}/")
        print("Multi-line input (a model's script): open a ``` block after the command and close it with ```.")
        if log_file is not None:
            print(f"Log lines go to {log_file}. Start with /start.")
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if line.strip() in ("/quit", "/exit", "quit", "exit"):
                return 0
            while line.count("```") % 2:  # a ``` block (a script, a CSV) goes on until its closing ```
                try:
                    line += "\n" + await asyncio.to_thread(input, "... ")
                except (EOFError, KeyboardInterrupt):
                    break
            if line.strip():
                console.show(await console.handle(line))
    finally:
        if scheduler is not None:
            await scheduler.stop()
        await app.close()
