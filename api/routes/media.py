"""Media: Upload Media, Fetch Media, Remove Media (as ``/upload`` and ``/media``).

A file is named in the path by its name and picked by ``media_id`` (as Upload Media answers);
without ``media_id`` the name itself may be the id (``12`` or ``media:12``). Quotas are the plan's,
as in the chat. Fetched files come back under their sniffed type, never as markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.common import Reader, Trader, core_of
from api.problems import PROBLEMS
from core.db import parse_id
from core.errors import NotFound
from core.media import service as media
from core.media.service import MediaView, served_name
from core.media.sniff import EXTENSIONS

router = APIRouter(prefix="/v1", responses=PROBLEMS)
MediaId = Annotated[str | None, Query(max_length=24, description="the file's id, as Upload Media answers it")]
# Served under the type sniffed at upload, one of those uploads accept (not a generic octet-stream).
FILE = {"content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in EXTENSIONS},
        "description": "the file's bytes, under its sniffed type",
        "headers": {"Content-Disposition": {"schema": {"type": "string"}, "description": "attachment; its name"}}}  # fmt: skip


class UploadMedia(BaseModel):
    content: str = Field(min_length=1, description="the file as base64 text (a data: URL prefix is fine)")
    name: str | None = Field(default=None, max_length=256, description="a display name")


class MediaOut(BaseModel):
    media_id: int
    name: str
    ref: str = Field(description="media:ID, as an account's image takes it")
    content_type: str
    size: int
    created_at: datetime

    @staticmethod
    def of(view: MediaView) -> MediaOut:
        return MediaOut(media_id=view.id, name=view.name, ref=view.ref, content_type=view.content_type,
                        size=view.size, created_at=view.created_at)  # fmt: skip


@router.post("/media", summary="Upload Media", tags=["Media"], response_model=MediaOut)
async def upload_media(body: UploadMedia, request: Request, caller: Trader) -> MediaOut:
    core = core_of(request)
    return MediaOut.of(await media.upload_base64(core.db, core.settings, caller.actor, body.content, body.name))


@router.get("/media/{name}", summary="Fetch Media", tags=["Media"], response_class=Response, responses={200: FILE})
async def fetch_media(name: str, request: Request, caller: Reader, media_id: MediaId = None) -> Response:
    core = core_of(request)
    view, data = await media.fetch(core.db, core.settings, caller.actor, _media_id(media_id, name))
    return Response(data, media_type=view.content_type, headers={
        "Content-Disposition": _disposition(served_name(view)), "X-Content-Type-Options": "nosniff"})  # fmt: skip


@router.delete("/media/{name}", summary="Remove Media", tags=["Media"], response_model=MediaOut)
async def remove_media(name: str, request: Request, caller: Trader, media_id: MediaId = None) -> MediaOut:
    core = core_of(request)
    return MediaOut.of(await media.remove(core.db, core.settings, caller.actor, _media_id(media_id, name)))


def _disposition(name: str) -> str:
    """An attachment under ``name``: ASCII for every client, and UTF-8 (RFC 6266) for those that read it."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _media_id(media_id: str | None, name: str) -> int:
    text = (media_id or name).strip()
    found = parse_id(text.removeprefix("media:").lstrip("#"))
    if found is None:
        raise NotFound(f"you have no file '{text[:40]}'", hint="Upload Media answers each file's media_id")
    return found

