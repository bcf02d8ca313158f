"""``ConsoleNotifier``: pushed alerts in the terminal chat (the offline default), images saved to disk."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from core.message import Message
from core.notify import ChatTarget


class ConsoleNotifier:
    platform = "console"

    def __init__(self, out_dir: Path, stream: TextIO | None = None) -> None:
        self.out_dir = out_dir
        self.stream = stream

    async def send(self, target: ChatTarget, message: Message) -> bool:
        stream = self.stream or sys.stdout
        print(f"\n[alert for {target.chat_id}] {message.text}", file=stream)
        if message.images:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(message.images):
            path = self.out_dir / f"alert_{index}_{Path(image.filename).name}"
            path.write_bytes(image.data)
            print(f"[image] {path}", file=stream)
        for label, command in message.commands:
            print(f"  [{label}] {command}", file=stream)
        return True
