"""The README's HTTP API session, run as written: its chat lines in the console chat (the token),
then each of its ``curl`` commands against the real server (the ``api`` fixture), in order, on
SQLite and PostgreSQL. Each must succeed, and the session must end with a model deployed on the
paper account; so the README cannot drift from what the server does.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from core.broker.models import Credential
from core.broker.types import BrokerName
from core.deployment.models import Deployment

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = re.compile(r"^stx_[A-Za-z0-9_-]{43}$", re.M)


@dataclass
class Curl:
    """One curl command line, as curl would send it."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    output: str | None = None


def _parse_curl(words: list[str]) -> Curl:
    found = Curl("GET", "")
    rest = iter(words[1:])
    for word in rest:
        if word == "-s":
            continue
        if word == "-X":
            found.method = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(":")
            found.headers[name.strip()] = value.strip()
        elif word == "-d":
            found.body = next(rest)
            found.method = "POST" if found.method == "GET" else found.method  # as curl does with -d
        elif word == "-o":
            found.output = next(rest)
        else:
            url = urlsplit(word if "://" in word else f"http://{word}")
            found.path = url.path + (f"?{url.query}" if url.query else "")
    assert found.path, f"no URL in {words}"
    return found


def readme_session() -> tuple[list[str], list[Curl]]:
    """The chat lines (``> /...``) and curl commands of the first ``sh`` block of the HTTP API section."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## HTTP API\n") + 1 :]
    section = section[: section.index("\n## ")]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    lines = block.splitlines()
    chat = [line[2:].split(" #", 1)[0].strip() for line in lines if line.startswith("> /")]
    curls = [_parse_curl(shlex.split(line, comments=True)) for line in lines if line.startswith("curl ")]
    return chat, curls


def test_the_readme_shows_the_whole_session():
    chat, curls = readme_session()
    assert any(re.fullmatch(r"/token new \S+ trade", line) for line in chat)
    assert [(c.method, c.path) for c in curls if c.method == "POST"] == [
        ("POST", "/v1/market/info"), ("POST", "/v1/market/info"), ("POST", "/v1/models"),
        ("POST", "/v1/scripts/execute"), ("POST", "/v1/deployments"),
    ]  # fmt: skip


async def test_the_readme_session_works_as_written(api):
    console, client = api
    chat, curls = readme_session()
    secret = None
    for line in chat:
        reply = await console.handle(line)
        assert not reply.error, (line, reply.text)
        secret = next(iter(TOKEN.findall(reply.text)), secret)
    assert secret, "the README's chat lines make no token"

    answers = []
    for curl in curls:
        headers = {name: value.replace("$TOKEN", secret) for name, value in curl.headers.items()}
        answer = await client.request(curl.method, curl.path, headers=headers, content=curl.body)
        assert 200 <= answer.status_code < 300, (curl, answer.status_code, answer.text)
        if curl.output:  # -o chart.png: the picture itself
            assert answer.headers["content-type"] == "image/png" and answer.content.startswith(b"\x89PNG")
        answers.append(answer)

    listed = answers[-1].json()["items"]
    assert [(d["label"], d["ticker"], d["interval"], d["paper"]) for d in listed] == [("cross", "BTCUSDT", "1h", True)]
    async with console.core.db.session() as session:
        rows = (await session.execute(select(Deployment, Credential).join(Credential))).all()
    assert [(d.user_id, c.broker) for d, c in rows] == [(console.actor.user_id, BrokerName.PAPER)]
