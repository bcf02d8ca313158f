"""Message text as Telegram HTML: escaped, bold first line, split within Telegram's limits."""

from __future__ import annotations

import html
from html.parser import HTMLParser

from bots.telegram import render
from core.message import Button


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> tuple[list[str], str]:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser.tags, "".join(parser.text)


NASTY = "Result <b>not bold</b> & <script>alert(1)</script> *star* _under_ [link](http://x) `code` &amp;"


def test_user_text_cannot_add_markup():
    (chunk,) = render.html_chunks(NASTY)
    tags, text = parse(chunk)
    assert tags == []
    assert text == NASTY
    assert "<script>" not in chunk and "&lt;script&gt;" in chunk and "&amp;amp;" in chunk


def test_first_line_of_a_multi_line_text_is_bold_and_escaped():
    (chunk,) = render.html_chunks(f"{NASTY}\nsecond <i>line</i>")
    assert chunk.startswith("<b>Result &lt;b&gt;not bold&lt;/b&gt; &amp;")
    tags, text = parse(chunk)
    assert tags == ["b"]
    assert text == f"{NASTY}\nsecond <i>line</i>"


def test_single_line_is_not_bold():
    assert render.html_chunks("Watching BBCA.") == ["Watching BBCA."]


def test_long_text_splits_on_line_boundaries():
    lines = [f"line {i:04d} " + "x" * 90 for i in range(200)]  # ~20,000 characters
    chunks = render.html_chunks("\n".join(lines))
    assert len(chunks) >= 5
    assert all(render.size(c) <= render.MESSAGE_LIMIT for c in chunks)
    rebuilt = [parse(c)[1] for c in chunks]
    assert "\n".join(rebuilt) == "\n".join(lines)
    for text in rebuilt:  # every chunk holds whole lines
        assert all(line in lines for line in text.split("\n"))


def test_escaping_counts_towards_the_limit():
    text = "\n".join(["&<>" * 500] * 10)  # 1,500 raw chars per line, 6,500 escaped
    chunks = render.html_chunks(text)
    assert all(render.size(c) <= render.MESSAGE_LIMIT for c in chunks)
    assert "".join(parse(c)[1] for c in chunks).replace("\n", "") == text.replace("\n", "")
    assert not any("&am\n" in c or c.endswith("&") for c in chunks)  # no entity cut in half


def test_a_line_longer_than_a_message_is_cut_at_spaces():
    words = " ".join(f"word{i}" for i in range(2000))  # one 15,780-character line
    chunks = render.html_chunks(words)
    assert len(chunks) >= 4
    assert all(render.size(c) <= render.MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == words
    assert all(c.endswith(" ") for c in chunks[:-1])


def test_emoji_count_as_two_units():
    chunks = render.html_chunks("📈" * 3000)
    assert len(chunks) == 2 and all(render.size(c) <= render.MESSAGE_LIMIT for c in chunks)


def test_caption_is_the_whole_text_when_it_fits():
    caption, complete = render.caption_for("BBCA 1d\nPrice 9,500", "short")
    assert complete and caption == "<b>BBCA 1d</b>\nPrice 9,500"


def test_caption_falls_back_to_the_image_caption():
    caption, complete = render.caption_for("x\n" * 600, "BBCA <1d>")
    assert not complete and caption == "BBCA &lt;1d&gt;"
    long_caption, _ = render.caption_for("y\n" * 600, "z" * 3000)
    assert render.size(long_caption) <= render.CAPTION_LIMIT and long_caption.endswith("…")


def test_blank_text_gives_no_chunks():
    assert render.html_chunks("") == []
    assert render.html_chunks("\n\n") == []


def test_keyboard_carries_tokens_not_commands():
    bound = {}

    def bind(button: Button) -> str:
        bound[f"b:{len(bound)}"] = button.command
        return f"b:{len(bound) - 1}"

    rows = [
        [Button("1h", "/market BBCA 1h"), Button("4h", "/market BBCA 4h")],
        [Button(str(i), f"/x {i}") for i in range(10)],
    ]
    markup = render.keyboard(rows, bind)
    data = [[b.callback_data for b in row] for row in markup.inline_keyboard]
    assert data[0] == ["b:0", "b:1"]
    assert [len(row) for row in data] == [2, 8, 2]  # at most eight per row
    assert bound["b:0"] == "/market BBCA 1h"
    assert render.keyboard([], bind) is None


def test_keyboard_drops_oversized_callback_data():
    markup = render.keyboard(
        [[Button("ok", "/a"), Button("bad", "/b")]], lambda b: "b:ok" if b.command == "/a" else "b:" + "x" * 70
    )
    assert [b.text for row in markup.inline_keyboard for b in row] == ["ok"]


def test_escape_leaves_quotes_alone():
    assert render.escape('say "hi" & <go>') == 'say "hi" &amp; &lt;go&gt;'
    assert html.unescape(render.escape('a"b')) == 'a"b'


def test_a_script_errors_source_line_and_caret_are_monospaced():
    text = "line 1, col 8: unknown function 'emaa' — did you mean 'ema'?\n  fast = emaa(close, 3) < 1\n         ^\nUsage: /model"
    [chunk] = render.html_chunks(text)
    assert "<pre>  fast = emaa(close, 3) &lt; 1\n         ^</pre>" in chunk
    assert chunk.endswith("Usage: /model")
