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


# -- cards (Components V2) ------------------------------------------------------------------------

from bots.discord.render import CARD_BODY, MAX_CARD_TEXT, is_card  # noqa: E402
from core.message import Document  # noqa: E402


def _tree(page) -> list[dict]:
    every: list[dict] = []

    def visit(component: dict) -> None:
        every.append(component)
        for child in component.get("components", []):
            visit(child)

    for component in page.layout.to_components():
        visit(component)
    return every


def test_a_reply_with_a_chart_is_a_card_and_text_errors_and_long_reports_are_embeds():
    chart = [Image(b"png", "c.png")]
    assert is_card(Message("BBCA 9,000\nRSI 28", images=chart))
    assert not is_card(Message("BBCA 9,000\nRSI 28"))  # nothing to picture: an embed reads the same
    assert not is_card(Message("No data for BBCA", images=chart, error=True))  # refusals stay red embeds
    long = "Report\n" + "\n".join("y" * 100 for _ in range(60))  # beyond one card's 4,000 characters
    assert not is_card(Message(long, images=chart))
    (page,) = render(Message("BBCA 9,000\nRSI 28", images=chart))
    assert page.layout is not None and page.embeds == [] and "embeds" not in page.send_kwargs()
    assert page.send_kwargs()["view"] is page.layout and page.layout.has_components_v2()


async def test_a_card_at_its_fullest_stays_within_discords_limits():
    """25 buttons, ten charts, three files and the longest text that is still a card."""
    store = MemoryButtonStore()
    rows = [[Button(f"b{r}{i}", f"/market BBCA {r}{i}") for i in range(5)] for r in range(5)]
    text = "T" * 256 + "\n" + "\n".join("z" * 99 for _ in range(CARD_BODY // 100))
    images = [Image(b"png", f"c{i}.png", "caption " * 200) for i in range(12)]
    files = [Document(b"a,b", f"f{i}.csv") for i in range(3)]
    message = Message(text, images=images, files=files, buttons=rows)
    assert is_card(message)
    (page,) = render(message, bind=await store.binder("42", rows))
    every = _tree(page)
    assert len(every) <= 40 and page.layout.content_length() <= MAX_CARD_TEXT
    assert sum(len(c["content"]) for c in every if c["type"] == 10) <= MAX_CARD_TEXT
    [gallery] = [c for c in every if c["type"] == 12]
    assert len(gallery["items"]) == 10 and all(len(i["description"]) <= 1024 for i in gallery["items"])
    assert len([c for c in every if c["type"] == 2]) == 25
    shown = {c["file"]["url"] for c in every if c["type"] == 13} | {i["media"]["url"] for i in gallery["items"]}
    assert shown <= {f"attachment://{f.filename}" for f in page.files()}  # every reference is attached


def test_a_forced_card_carries_text_only_and_runs_on_in_embeds():
    """In place of a card (a pressed button), even a text reply is a card: Discord keeps the flag."""
    (page,) = render(Message("Saved\nall good"), card=True)
    [container] = page.layout.to_components()
    assert [c["type"] for c in container["components"]] == [10]
    assert container["components"][0]["content"] == "### Saved\nall good"
    kwargs = page.edit_kwargs()
    assert kwargs["content"] is None and kwargs["embeds"] == [] and kwargs["view"] is page.layout
    pages = render(Message("Long\n" + "\n".join("y" * 1000 for _ in range(8))), card=True)
    assert pages[0].layout is not None and all(p.layout is None and p.embeds for p in pages[1:])
    assert pages[0].layout.content_length() <= MAX_CARD_TEXT


async def test_files_a_card_has_no_room_for_are_never_dropped():
    store = MemoryButtonStore()
    rows = [[Button(f"b{r}{i}", f"/market BBCA {r}{i}") for i in range(5)] for r in range(5)]
    files = [Document(b"a,b", f"f{i}.csv") for i in range(9)]
    message = Message("Report\nfigures", images=[Image(b"png", "c.png")], files=files, buttons=rows)
    assert not is_card(message)  # 34 components before the files: nine more do not fit in 40
    (page,) = render(message, bind=await store.binder("42", rows))
    assert page.layout is None and len(page.files()) == 10
    pages = render(message, bind=await store.binder("42", rows), card=True)  # in place of a card
    assert len(_tree(pages[0])) <= 40
    sent = [f.filename for p in pages for f in p.files()]
    assert sorted(n for n in sent if n.endswith(".csv")) == sorted(f.filename for f in files)
