"""A Message as Discord embeds, files and views."""

from __future__ import annotations

from bots.discord.render import COLOUR, ERROR_COLOUR, MAX_DESCRIPTION, render
from core.message import Button, Image, Message
from core.state.buttons import MemoryButtonStore


async def test_title_description_and_markdown_escaped():
    (page,) = render(Message("BBCA *hot*\nuse_snake_case and `ticks`"))
    embed = page.embeds[0]
    assert embed.title == "BBCA \\*hot\\*" and embed.colour == COLOUR
    assert embed.description == "use\\_snake\\_case and \\`ticks\\`"
    assert page.view is None and page.send_kwargs() == {"embeds": [embed]}


async def test_error_replies_are_red():
    (page,) = render(Message.fail("unknown ticker", "/market TICKER"))
    assert page.embeds[0].colour == ERROR_COLOUR and "Usage: /market TICKER" in page.embeds[0].description


async def test_overlong_first_line_stays_in_the_body():
    (page,) = render(Message("x" * 300))
    assert page.embeds[0].title is None and page.embeds[0].description == "x" * 300


async def test_long_text_splits_on_lines_and_is_capped():
    pages = render(Message("Title\n" + "\n".join("y" * 1000 for _ in range(40))))
    assert len(pages) == 5 and all(len(p.embeds[0].description) <= MAX_DESCRIPTION for p in pages)
    assert pages[-1].embeds[0].description.endswith("(cut: too long for Discord)")


async def test_images_get_unique_safe_names_and_one_embed_each():
    images = [Image(b"a", "chart 1.png"), Image(b"b", "chart 1.png"), Image(b"c", "../x")]
    (page,) = render(Message("Charts", images=images), card=False)
    names = [f.filename for f in page.files()]
    assert len(set(names)) == 3 and all("/" not in n and " " not in n for n in names)
    assert [e.image.url for e in page.embeds] == [f"attachment://{n}" for n in names]
    assert page.files()[1].fp.read() == b"b"


async def test_buttons_are_bound_to_the_owner_in_rows_of_five():
    store = MemoryButtonStore()
    row = [Button(f"b{i}", f"/market BBCA {i}") for i in range(7)]
    (page,) = render(Message("Pick", buttons=[row]), bind=await store.binder("42", [row]))
    components = page.view.to_components()
    assert [len(r["components"]) for r in components] == [5, 2]
    first = components[0]["components"][0]
    assert first["label"] == "b0" and await store.resolve(first["custom_id"], "42") == "/market BBCA 0"
    (no_owner,) = render(Message("Pick", buttons=[row]))
    assert no_owner.view is None


async def test_more_one_button_rows_than_discord_shows_are_packed_not_dropped():
    """/share lists each group on a row of its own; Discord shows five rows, so the seventh group
    used to be missing."""
    store = MemoryButtonStore()
    rows = [[Button(f"Group {i}", f"/share cross BBCA to={i}")] for i in range(7)]
    (page,) = render(Message("Which group?", buttons=rows), bind=await store.binder("42", rows))
    labels = [[c["label"] for c in r["components"]] for r in page.view.to_components()]
    assert labels == [[f"Group {i}" for i in range(5)], ["Group 5", "Group 6"]]


def test_a_script_errors_caret_is_in_a_code_block():
    from bots.discord.render import render

    text = "Invalid script\nline 1, col 8: unknown function 'emaa'\n  x = emaa(close, 3) * 2 `\n      ^\nUsage: /model"
    [page] = render(Message(text, error=True))
    body = page.embeds[0].description
    assert "```\n  x = emaa(close, 3) * 2 ˋ\n      ^\n```" in body
    assert body.endswith("Usage: /model")
