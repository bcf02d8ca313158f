"""Disk full on upload: the user hears storage is temporarily unavailable and nothing was lost."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from core.media.models import Media

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


async def test_a_full_disk_on_upload(console, monkeypatch):
    real = tempfile.mkstemp

    def on_a_full_disk(dir: str | Path, prefix: str) -> tuple[int, str]:
        fd, path = real(dir=dir, prefix=prefix)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), path  # every write fails with ENOSPC, from the kernel

    monkeypatch.setattr("core.media.storage.tempfile.mkstemp", on_a_full_disk)
    reply = await console.handle(f"/upload logo.png {base64.b64encode(PNG).decode()}")
    assert reply.error and "Something went wrong" not in reply.text
    assert "temporarily unavailable (it is full), so this file was not saved; nothing was lost" in reply.text
    async with console.core.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Media)) == 0
    leftovers = [p for p in Path(console.core.settings.database_url.split("///")[1]).parent.rglob(".up-*")]
    assert leftovers == []  # the half-written file is gone too
