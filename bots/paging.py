"""One page of a list in chat: the title, the lines, and Prev/Next buttons that re-run the command."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.message import Button, Message
from core.paging import Page


def paged_reply[T](
    found: Page[T],
    *,
    title: str,
    command: str,
    line: Callable[[T], str],
    empty: str,
    buttons: Sequence[Button] = (),
    ephemeral: bool = False,
    footer: str | None = None,
) -> Message:
    """``title`` ("Your models") with the page's items, one ``line`` each; ``empty`` when there are none.

    ``command`` is what the nav buttons run with the page number appended (``/models``);
    ``footer`` is a last line under the items (how to act on one); ``ephemeral`` marks the reply
    (and the ``empty`` one) as seen only by the asker where the platform allows it.
    """
    if not found.total:
        return Message(empty, ephemeral=ephemeral)
    if found.page > found.pages:
        verb = "is" if found.pages == 1 else "are"
        return Message.fail(f"there {verb} {found.pages} page{'s' * (found.pages != 1)}, not {found.page}")
    heading = f"{title}:" if found.pages == 1 else f"{title} (page {found.page} of {found.pages}):"
    nav = [Button("◀ Prev", f"{command} {found.page - 1}")] if found.page > 1 else []
    nav += [Button("Next ▶", f"{command} {found.page + 1}")] if found.has_next else []
    rows = [row for row in (nav, list(buttons)) if row]
    lines = [heading, *(line(item) for item in found.items), *([footer] if footer else [])]
    return Message("\n".join(lines), buttons=rows, ephemeral=ephemeral)
