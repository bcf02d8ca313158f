"""Media commands: /upload (base64 text, or a photo or file sent with the caption /upload), /media."""

from __future__ import annotations

from bots.commands import registry
from bots.paging import paged_reply
from bots.registry import Arg, ArgKind, Context
from core import format as fmt
from core.media import service as media
from core.media.service import served_name
from core.media.sniff import IMAGES
from core.message import Button, ButtonStyle, Image, Message

PAGE_SIZE = 10
ACTIONS = ("list", "show", "rm")
MAX_TEXT_SHOWN = 3000
UPLOAD_HELP = (
    "Send a photo or file to the bot with the caption /upload (on Telegram), or the content as base64:\n"
    "/upload NAME BASE64  ·  accepted: PNG, JPEG, GIF, WEBP, PDF, plain text"
)
_KINDS = {
    "image/png": "PNG image", "image/jpeg": "JPEG image", "image/gif": "GIF image", "image/webp": "WEBP image",
    "application/pdf": "PDF", "text/plain": "text",
}  # fmt: skip


def usage_line(used: media.MediaUsage) -> str:
    """``Using 3 of 20 files · 1.2 MB of 25.0 MB (Free plan)``: what the quota leaves, at a glance."""
    files = f"{used.files} of {used.max_files} files" if used.max_files else f"{used.files} files"
    size = fmt.size(used.bytes, "bytes")
    room = f"{size} of {fmt.size(used.max_bytes, 'bytes')}" if used.max_bytes else size
    return f"Using {files} · {room} ({used.plan} plan)"


def describe(view: media.MediaView) -> str:
    kind = _KINDS.get(view.content_type, view.content_type)
    return f"#{view.id} {view.name} · {kind} · {fmt.size(view.size, "bytes")} · {view.created_at:%Y-%m-%d}"


@registry.command(
    "upload",
    "Store a file: a photo captioned /upload, or base64",
    Arg(
        "content",
        "[NAME] BASE64, or just a name when a photo or file is attached",
        kind=ArgKind.REST,
        required=False,
        ask=lambda raw: True,  # nothing given: a form asks for the file (and a name) where there are forms
    ),
    group="Account",
    examples=("/upload logo.png iVBORw0KGgo...", "(a photo with the caption) /upload avatar"),
    private_only=True,
    reads_file=True,
    operations=("Upload Media",),
)
async def upload(ctx: Context, content: str | None) -> Message:
    core = ctx.core
    words = (content or "").split()
    # a full quota refuses before an attached file is downloaded (upload checks again, with its size)
    media.check_quota(await media.usage(core.db, core.settings, ctx.actor), 0)
    loader = ctx.extras.get("attached_file")
    attached = await loader() if loader is not None else None
    if attached is not None:
        data, filename = attached
        name = " ".join(words) or filename
        view = await media.upload(core.db, core.settings, ctx.actor, data, name)
    elif not words:
        return Message.fail("nothing to upload", UPLOAD_HELP)
    else:
        name, encoded = (None, words[0]) if len(words) == 1 else (words[0], "".join(words[1:]))
        view = await media.upload_base64(core.db, core.settings, ctx.actor, encoded, name)
    lines = [f"Stored {describe(view)}.", f"Refer to it as {view.ref}"]
    buttons = [[Button("Show", f"/media show {view.id}"), Button("All files", "/media"),
                Button.copy("Copy reference", view.ref)]]  # fmt: skip
    if view.content_type in IMAGES:
        lines.append(f"Make it your profile image: /profile set image {view.ref}")
        buttons[0].append(Button("Use as profile image", f"/profile set image {view.ref}"))
    return Message("\n".join(lines), buttons=buttons, ephemeral=True)


@registry.command(
    "media",
    "List, show or remove your files",
    Arg(
        "action",
        "list, show or rm",
        kind=ArgKind.CHOICE,
        choices=ACTIONS,
        required=False,
        matches=lambda token: token.lower() in ACTIONS,
    ),
    Arg("number", "the file's id (show, rm) or a page number (list)", kind=ArgKind.INT, required=False),
    group="Account",
    examples=("/media", "/media 2", "/media show 3", "/media rm 3"),
    private_only=True,
    confirmable=True,
    operations=("Fetch Media", "Remove Media"),
)
async def media_(ctx: Context, action: str | None, number: int | None, confirmed: bool = False) -> Message:
    core = ctx.core
    if action in ("show", "rm"):
        if number is None:
            return Message.fail(
                f"say which file: /media {action} ID (see /media for the ids)", f"/media {action} ID"
            )
        return await _show(ctx, number) if action == "show" else await _remove(ctx, number, confirmed)
    page = number or 1
    found = await media.list_media(core.db, ctx.actor, page, PAGE_SIZE)
    used = usage_line(await media.usage(core.db, core.settings, ctx.actor))
    return paged_reply(
        found, title="Your files", command="/media", line=lambda view: f"• {describe(view)}",
        empty="You have no files yet.\n" + UPLOAD_HELP, ephemeral=True,
        footer=f"{used}\nShow one: /media show ID · remove: /media rm ID",
    )


async def _show(ctx: Context, file_id: int) -> Message:
    core = ctx.core
    view = await media.get_media(core.db, ctx.actor, file_id)
    if view.content_type not in IMAGES and view.content_type != "text/plain":  # no need for its bytes
        return Message(f"{describe(view)}\nThis kind of file cannot be shown in chat.", ephemeral=True)
    view, data = await media.fetch(core.db, core.settings, ctx.actor, file_id)
    if view.content_type in IMAGES:
        return Message(describe(view), images=[Image(data, served_name(view), view.name)], ephemeral=True)
    if view.content_type == "text/plain":
        text = data.decode("utf-8-sig", errors="replace")
        cut = "\n[… cut]" if len(text) > MAX_TEXT_SHOWN else ""
        return Message(f"{describe(view)}\n\n{text[:MAX_TEXT_SHOWN]}{cut}", ephemeral=True)
    return Message(f"{describe(view)}\nThis kind of file cannot be shown in chat.", ephemeral=True)


async def _remove(ctx: Context, file_id: int, confirmed: bool) -> Message:
    core = ctx.core
    if not confirmed:
        view = await media.get_media(core.db, ctx.actor, file_id)
        return Message(
            f"Remove {describe(view)}? The file is deleted for good.",
            buttons=[[Button("Yes, remove", f"/media rm {view.id} --yes", style=ButtonStyle.DANGER), Button("Keep", "/media")]],
            ephemeral=True,
        )
    gone = await media.remove(core.db, core.settings, ctx.actor, file_id)
    return Message(f"Removed file #{gone.id} ({gone.name}).", ephemeral=True)
