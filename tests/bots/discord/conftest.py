"""Drive the real discord.py client offline.

Interactions go in as raw INTERACTION_CREATE payloads through
``client._connection.parse_interaction_create``; what the bot would send is captured where
discord.py sends it: ``AsyncWebhookAdapter.request`` (interaction callbacks, follow-ups, edits of
the original response) and ``HTTPClient.request`` (every other REST call), answered with
plausible Discord responses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from discord.http import HTTPClient, Route
from discord.webhook.async_ import AsyncWebhookAdapter

from bots.commands import load
from bots.discord.client import StoxlifyClient, build_client
from bots.registry import Registry
from core.app import Core
from core.config import Settings
from core.state.ratelimit import RateLimiter

APP_ID = 700000000000000001
GUILD_ID = 800000000000000001
CHANNEL_ID = 810000000000000001
DM_CHANNEL_ID = 820000000000000001
OWNER_ID = 900000000000000001
OTHER_ID = 900000000000000002
IS_COMPONENTS_V2 = 1 << 15
BOT_USER = {"id": str(APP_ID), "username": "stoxlify", "discriminator": "0", "avatar": None, "bot": True}
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3

_ids = itertools.count(1_000_000_000_000_000_001)


def user_payload(user_id: int) -> dict[str, Any]:
    name = "owner" if user_id == OWNER_ID else f"user{str(user_id)[-3:]}"
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
    }


def interaction_payload(
    kind: int,
    data: dict[str, Any],
    *,
    user_id: int = OWNER_ID,
    guild: bool = True,
    permissions: int = 0,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A raw INTERACTION_CREATE payload as the gateway sends it."""
    interaction_id = next(_ids)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"itoken-{interaction_id}",
        "version": 1,
        "data": data,
        "attachment_size_limit": 10 * 1024 * 1024,
        "locale": "en-US",
        "app_permissions": str((1 << 50) - 1),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)} if guild else {"1": str(user_id)},
    }
    if guild:
        payload.update(
            guild_id=str(GUILD_ID),
            guild_locale="en-US",
            context=0,
            channel_id=str(CHANNEL_ID),
            channel={
                "id": str(CHANNEL_ID),
                "type": 0,
                "name": "trading",
                "guild_id": str(GUILD_ID),
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            member={
                "user": user_payload(user_id),
                "roles": [],
                "joined_at": "2025-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            },
        )
    else:
        payload.update(
            context=1,
            channel_id=str(DM_CHANNEL_ID),
            channel={"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [user_payload(user_id)]},
            user=user_payload(user_id),
        )
    if message is not None:
        payload["message"] = message
    return payload


def slash(name: str, /, **options: Any) -> dict[str, Any]:
    """``data`` of a chat-input command with these option values (None: left out)."""
    return {
        "id": "1100000000000000001",
        "name": name,
        "type": 1,
        "options": [
            {"name": key, "type": 4 if isinstance(value, int) else 3, "value": value}
            for key, value in options.items()
            if value is not None
        ],
    }


def check_card_limits(body: dict[str, Any]) -> None:
    """Discord's documented limits on a Components V2 message: no content or embeds; at most 40
    components, nested ones included; 4,000 characters of text displays together; a media gallery
    of 1-10 items (descriptions up to 1,024); action rows of 1-5 buttons; every ``attachment://``
    reference names an attached file."""
    assert body["flags"] & IS_COMPONENTS_V2 and not body.get("content") and not body.get("embeds")
    every: list[dict[str, Any]] = []

    def visit(component: dict[str, Any]) -> None:
        every.append(component)
        for child in component.get("components", []):
            visit(child)

    for component in body["components"]:
        visit(component)
    assert len(every) <= 40
    assert sum(len(c["content"]) for c in every if c["type"] == 10) <= 4000
    attached = {f"attachment://{a['filename']}" for a in body.get("attachments", [])}
    for c in every:
        if c["type"] == 12:
            assert 1 <= len(c["items"]) <= 10
            assert all(len(i.get("description", "")) <= 1024 and i["media"]["url"] in attached for i in c["items"])
        if c["type"] == 13:
            assert c["file"]["url"] in attached
        if c["type"] == 1:
            assert 1 <= len(c["components"]) <= 5


@dataclass
class Call:
    via: str  # "webhook" (interaction responses) or "http" (other REST)
    method: str
    path: str  # without https://discord.com/api/v10
    json: Any
    files: list[tuple[str, bytes]]
    response: Any = None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        body = self.json or {}
        return body.get("data", body).get("embeds") or []

    @property
    def components(self) -> list[dict[str, Any]]:
        body = self.json or {}
        return body.get("data", body).get("components") or []

    def walk(self) -> list[dict[str, Any]]:
        """Every component, nested ones included (rows in a container, a Label's component), in order."""
        found: list[dict[str, Any]] = []

        def visit(component: dict[str, Any]) -> None:
            found.append(component)
            for child in component.get("components", []):
                visit(child)
            if "component" in component:
                visit(component["component"])
            if "accessory" in component:
                visit(component["accessory"])

        for component in self.components:
            visit(component)
        return found

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.walk() if c["type"] == 2 and "custom_id" in c]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.walk() if c["type"] == 2]

    @property
    def text(self) -> str:
        """What the message says: its embeds' titles and descriptions, or a card's text displays."""
        parts = [e.get("title", "") + "\n" + e.get("description", "") for e in self.embeds]
        parts += [c["content"] for c in self.walk() if c["type"] == 10]
        return "\n".join(parts)

    @property
    def flags(self) -> int:
        body = self.json or {}
        return body.get("data", body).get("flags") or 0


@dataclass
class FakeDiscord:
    """Records every request; ``fail`` lets a test make the next matching calls fail."""

    calls: list[Call] = field(default_factory=list)
    fail: list[tuple[Callable[[Call], bool], int]] = field(default_factory=list)

    def message(self, body: dict[str, Any] | None, channel_id: int = CHANNEL_ID) -> dict[str, Any]:
        body = body or {}
        return {
            "id": str(next(_ids)),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": BOT_USER,
            "attachments": [
                {
                    "id": str(next(_ids)),
                    "filename": a.get("filename", "file"),
                    "size": 1,
                    "url": f"https://cdn.example/{a.get('filename')}",
                    "proxy_url": "",
                }
                for a in body.get("attachments") or []
            ],
            "embeds": body.get("embeds") or [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": "2026-11-01T00:00:00+00:00",
            "edited_timestamp": None,
            "flags": body.get("flags") or 0,
            "components": body.get("components") or [],
        }

    def _record(self, via: str, route: Route, body: Any, multipart: Any, files: Any) -> Call:
        if multipart:
            body = json.loads(next(part["value"] for part in multipart if part["name"] == "payload_json"))
        captured = []
        for file in files or []:
            file.fp.seek(0)
            captured.append((file.filename, file.fp.read()))
        call = Call(via, route.method, route.url.removeprefix(Route.BASE), body, captured)
        self.calls.append(call)
        for index, (matches, status) in enumerate(self.fail):
            if matches(call):
                del self.fail[index]
                raise discord.HTTPException(_Response(status), {"message": "nope", "code": 0})
        return call

    def webhook(self, route: Route, body: Any, multipart: Any, files: Any) -> Any:
        call = self._record("webhook", route, body, multipart, files)
        if call.path.endswith("/callback"):
            call.response = {"interaction": {"id": str(route.webhook_id), "type": 2}}
        elif call.method in ("POST", "PATCH"):
            call.response = self.message(call.json)
        return call.response

    def http(self, route: Route, body: Any, multipart: Any, files: Any) -> Any:
        call = self._record("http", route, body, multipart, files)
        if call.path.endswith("/commands"):
            call.response = []
        elif call.path == "/users/@me/channels":
            call.response = {
                "id": str(DM_CHANNEL_ID),
                "type": 1,
                "recipients": [user_payload(int(body["recipient_id"]))],
            }
        elif call.method == "GET" and call.path.startswith("/channels/"):
            channel_id = call.path.split("/")[2]
            if channel_id == str(DM_CHANNEL_ID):
                call.response = {"id": channel_id, "type": 1, "recipients": [user_payload(OWNER_ID)]}
            else:
                call.response = {
                    "id": channel_id,
                    "type": 0,
                    "name": "alerts",
                    "guild_id": str(GUILD_ID),
                    "position": 0,
                }
        elif call.method == "POST" and call.path.endswith("/messages"):
            call.response = self.message(call.json, int(call.path.split("/")[2]))
        return call.response

    def only(self, via: str | None = None) -> list[Call]:
        return [c for c in self.calls if via is None or c.via == via]


@dataclass
class _Response:
    status: int
    reason: str = "failed"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> FakeDiscord:
    fake = FakeDiscord()

    async def webhook_request(self, route, session=None, *, payload=None, multipart=None, files=None, **_):
        return fake.webhook(route, payload, multipart, files)

    async def http_request(self, route, *, files=None, form=None, **kwargs):
        return fake.http(route, kwargs.get("json"), form, files)

    monkeypatch.setattr(AsyncWebhookAdapter, "request", webhook_request)
    monkeypatch.setattr(HTTPClient, "request", http_request)
    return fake


@pytest.fixture
async def core(tmp_path):
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
        market_offline=True,
        discord_sync="guild",
        discord_guild_ids=[GUILD_ID],
    )
    core = await Core.start(settings)
    try:
        yield core
    finally:
        await core.close()


class Harness:
    """A client wired to the fake Discord; ``send`` dispatches a payload and waits for the bot."""

    def __init__(self, client: StoxlifyClient, fake: FakeDiscord) -> None:
        self.client = client
        self.fake = fake

    async def send(self, payload: dict[str, Any]) -> list[Call]:
        start = len(self.fake.calls)
        before = asyncio.all_tasks()
        self.client._connection.parse_interaction_create(payload)
        for _ in range(100):  # the bot's tasks, and the tasks they start
            pending = [
                t
                for t in asyncio.all_tasks() - before
                if t is not asyncio.current_task() and not t.done() and not _view_timeout(t)
            ]
            if not pending:
                break
            await asyncio.wait(pending, timeout=20)
        return self.fake.calls[start:]

    async def slash(
        self, name: str, /, *, user_id: int = OWNER_ID, guild: bool = True, permissions: int = 0, **options
    ):
        return await self.send(
            interaction_payload(
                2, slash(name, **options), user_id=user_id, guild=guild, permissions=permissions
            )
        )

    async def press(self, message: dict[str, Any], custom_id: str, *, user_id: int = OWNER_ID) -> list[Call]:
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.send(interaction_payload(3, data, user_id=user_id, message=message))


def _view_timeout(task: asyncio.Task[Any]) -> bool:
    """A view's timeout timer (discord.py gives an ephemeral reply's view 15 minutes): it sends nothing."""
    return task.get_coro().__qualname__.endswith("__timeout_task_impl")  # type: ignore[union-attr]


async def make_harness(core: Core, registry: Registry, fake: FakeDiscord) -> Harness:
    client = build_client(core, registry)
    client.loop = asyncio.get_running_loop()
    client.http.loop = client.loop
    client._connection.loop = client.loop
    client._connection.application_id = APP_ID
    client._connection.user = discord.ClientUser(state=client._connection, data=BOT_USER)
    return Harness(client, fake)


@pytest.fixture
async def bot(core, fake_discord, monkeypatch) -> Harness:
    """The real command registry on a real core; a fresh rate limiter per test."""
    registry = load()
    monkeypatch.setattr(registry, "rate_limiter", RateLimiter())
    harness = await make_harness(core, registry, fake_discord)
    try:
        yield harness
    finally:
        await harness.client.close()


@pytest.fixture
def dk():
    """This module: the payload builders and ids above, for the tests."""
    return sys.modules[__name__]
