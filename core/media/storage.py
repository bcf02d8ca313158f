"""Object storage for uploaded bytes: a local folder by default, S3-compatible by settings.

Keys are random (``new_key``) and checked again here, so no user-chosen text ever becomes a
path or an object name. Every operation is async; the local folder does its file work in a
thread so a slow disk never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy.engine import make_url

from core.config import Settings
from core.errors import NotFound, Unavailable
from core.logging import get_logger

log = get_logger(__name__)

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_key() -> str:
    """A fresh object key: 32 random hex digits (safe on case-insensitive file systems too)."""
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    if not _KEY.match(key or ""):
        raise ValueError(f"not a storage key: {key!r}")
    return key


@runtime_checkable
class ObjectStorage(Protocol):
    """Where media bytes live. ``get`` raises ``NotFound`` for a missing key; ``delete`` of one is a no-op."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_FULL = (
    "File storage is temporarily unavailable (it is full), so this file was not saved; nothing was lost. "
    "Please try again later."
)


class LocalStorage:
    """Files under ``root``, fanned out by the key's first two characters; created on demand."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, key: str) -> Path:
        key = check_key(key)
        return self.root / key[:2] / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await asyncio.to_thread(self._write, self.path_of(key), data)
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            # the operator's problem, not the user's fault: said so, the half-written file already removed
            log.warning("media_storage_full", root=str(self.root), error=exc.strerror)
            raise Unavailable(STORAGE_FULL) from exc

    async def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise NotFound("that file is missing from storage") from None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, missing_ok=True)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        """Write to a temporary file and rename it: a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def media_root(settings: Settings) -> Path:
    """``MEDIA_DIR``, or a ``media`` folder next to the SQLite file (``var/media`` for PostgreSQL)."""
    if settings.media_dir is not None:
        return Path(settings.media_dir)
    if settings.is_sqlite:
        database = make_url(settings.database_url).database
        if database and database != ":memory:":
            return Path(database).parent / "media"
    return Path("var") / "media"


def storage_for(settings: Settings) -> ObjectStorage:
    """The storage the settings choose: S3 when ``MEDIA_S3_BUCKET`` is set, else the local folder."""
    if settings.media_s3_bucket:
        from core.media.s3 import S3Storage

        return S3Storage.from_settings(settings)
    return LocalStorage(media_root(settings))
