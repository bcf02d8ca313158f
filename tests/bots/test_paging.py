"""Lists in chat: title with page numbers, Prev/Next buttons that re-run the command, clear ends."""

from __future__ import annotations

from bots.paging import paged_reply
from core.paging import Page


def _reply(page: int, total: int = 25, size: int = 10):
    items = [f"item {i}" for i in range((page - 1) * size, min(total, page * size))]
    return paged_reply(Page(items, page, size, total), title="Your things", command="/things",
                       line=lambda x: f"• {x}", empty="Nothing here yet.")  # fmt: skip


def test_middle_page_has_both_buttons_and_its_number():
    reply = _reply(2)
    assert reply.text.splitlines()[0] == "Your things (page 2 of 3):"
    assert reply.text.splitlines()[1] == "• item 10"
    assert [[b.command for b in row] for row in reply.buttons] == [["/things 1", "/things 3"]]


def test_single_page_empty_and_past_the_end():
    single = _reply(1, total=3)
    assert single.text.startswith("Your things:\n• item 0") and single.buttons == []
    assert _reply(1, total=0).text == "Nothing here yet."
    past = _reply(4)
    assert past.error and past.text == "there are 3 pages, not 4"


def test_footer_and_ephemeral_are_optional():
    page = Page(["a", "b"], 1, 10, 2)
    reply = paged_reply(page, title="Files", command="/files", line=str, empty="none", ephemeral=True,
                        footer="Show one: /files show ID")  # fmt: skip
    assert reply.text == "Files:\na\nb\nShow one: /files show ID" and reply.ephemeral
    empty = paged_reply(Page([], 1, 10, 0), title="Files", command="/files", line=str, empty="none", ephemeral=True)
    assert empty.text == "none" and empty.ephemeral
    assert not _reply(1).ephemeral and _reply(1, total=3).text.splitlines()[-1] == "• item 2"
