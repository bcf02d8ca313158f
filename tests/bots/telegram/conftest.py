"""Drive the real python-telegram-bot Application offline.

``RecordingRequest`` stands in for the HTTP layer: it records every Bot API call (method name,
parameters, uploaded files) and answers valid JSON, so handlers run exactly as they would against
Telegram. Updates are real Update JSON fed through ``app.process_update``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bots.commands import load
from bots.registry import Registry
from bots.telegram.app import build_application
from core.app import Core
from core.config import Settings

BOT = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Stoxlify",
    "username": "StoxlifyBot",
    "can_join_groups": True,
    "can_read_all_group_messages": True,
    "supports_inline_queries": False,
}
ALICE = {"id": 1001, "is_bot": False, "first_name": "Alice", "username": "alice"}
BOB = {"id": 1002, "is_bot": False, "first_name": "Bob"}
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
PRIVATE = {"id": ALICE["id"], "type": "private", "first_name": "Alice"}
GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Traders <&> Co"}

_ADMIN_RIGHTS = dict.fromkeys(
    [
        "can_be_edited",
        "is_anonymous",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ],
    False,
)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, Any]
    ok: bool = True

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def callback_tokens(self) -> list[str]:
        markup = self.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [
            b["callback_data"]
            for row in markup.get("inline_keyboard", [])
            for b in row
            if "callback_data" in b
        ]

    def token(self, label: str) -> str:
        """The callback token of the button labelled ``label``."""
        markup = self.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        (token,) = [
            b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if b["text"] == label
        ]
        return token


@dataclass
class RecordingRequest(BaseRequest):
    """Records Bot API calls and answers them like Telegram would."""

    calls: list[Call] = field(default_factory=list)
    member_status: str = "member"
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    poll_delay: float = 0.02  # getUpdates answers [] after this long (a long poll in miniature)
    _ids: Any = field(default_factory=lambda: itertools.count(500))

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    def fail_once(self, method: str, status: int, body: dict[str, Any]) -> None:
        self.failures.setdefault(method, []).append((status, body))

    def api(self, *methods: str) -> list[Call]:
        """Successful calls, optionally only those to ``methods`` (getMe left out)."""
        return [
            c for c in self.calls if c.ok and c.method != "getMe" and (not methods or c.method in methods)
        ]

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files = dict(request_data.multipart_data) if request_data and request_data.contains_files else {}
        queued = self.failures.get(name)
        if queued:
            status, body = queued.pop(0)
            self.calls.append(Call(name, params, files, ok=False))
            return status, json.dumps(body).encode()
        self.calls.append(Call(name, params, files))
        if name == "getUpdates":
            await asyncio.sleep(self.poll_delay)
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = params.get("chat_id", PRIVATE["id"])
        chat = (
            {"id": chat_id, "type": "private", "first_name": "Alice"}
            if int(chat_id) > 0
            else dict(GROUP, id=chat_id)
        )
        return {
            "message_id": params.get("message_id") or next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT,
            **content,
        }

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        photo = [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 1200, "height": 800}]
        if name == "getMe":
            return BOT
        if name == "sendMessage":
            return self._message(params, text=params.get("text", ""))
        if name in ("sendPhoto", "editMessageMedia"):
            return self._message(params, photo=photo, caption=params.get("caption", ""))
        if name == "sendDocument":
            document = {"file_id": "BQAD", "file_unique_id": "AgAD", "file_name": "file"}
            return self._message(params, document=document, caption=params.get("caption", ""))
        if name == "sendMediaGroup":
            return [self._message(params, photo=photo) for _ in params.get("media", [])]
        if name == "getUpdates":
            return []
        if name == "getChatMember":
            user = {"id": params["user_id"], "is_bot": False, "first_name": "Member"}
            if self.member_status == "administrator":
                return {"status": "administrator", "user": user, **_ADMIN_RIGHTS}
            if self.member_status == "creator":
                return {"status": "creator", "user": user, "is_anonymous": False}
            return {"status": self.member_status, "user": user}
        return True


_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def message(
    text: str,
    *,
    user: dict[str, Any] | None = ALICE,
    chat: dict[str, Any] = PRIVATE,
    sender_chat: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Update JSON for a text message (a bot_command entity when it starts with '/')."""
    msg: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat,
        "text": text,
    }
    if user is not None:
        msg["from"] = user
    if sender_chat is not None:
        msg["sender_chat"] = sender_chat
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next(_update_ids), "message": msg}


def press(data: str, *, user: dict[str, Any] = ALICE, on: dict[str, Any] | None = None) -> dict[str, Any]:
    """Update JSON for pressing a button with ``data`` under the bot's message ``on``."""
    on = on or {
        "message_id": 42,
        "date": int(time.time()),
        "chat": PRIVATE,
        "from": BOT,
        "photo": [{"file_id": "AgAD", "file_unique_id": "AQAD", "width": 1200, "height": 800}],
        "caption": "BBCA 1d",
    }
    query = {
        "id": f"cb{next(_update_ids)}",
        "from": user,
        "chat_instance": "ci-1",
        "data": data,
        "message": on,
    }
    return {"update_id": next(_update_ids), "callback_query": query}


@pytest.fixture
async def core(tmp_path):
    settings = Settings(
        _env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}", market_offline=True
    )
    core = await Core.start(settings)
    try:
        yield core
    finally:
        await core.close()


@pytest.fixture
def rec() -> RecordingRequest:
    return RecordingRequest()


class Harness:
    """One initialised Application over a recording request, plus the payload builders."""

    BOT, ALICE, BOB, ANONYMOUS_ADMIN, PRIVATE, GROUP = BOT, ALICE, BOB, ANONYMOUS_ADMIN, PRIVATE, GROUP
    message = staticmethod(message)
    press = staticmethod(press)

    def __init__(self, app: Any, rec: RecordingRequest, core: Core) -> None:
        self.app, self.rec, self.core = app, rec, core

    async def feed(self, payload: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(payload, self.app.bot))

    async def say(self, text: str, **kwargs: Any) -> list[Call]:
        """Send a message; the successful calls it caused."""
        before = len(self.rec.calls)
        await self.feed(message(text, **kwargs))
        return [c for c in self.rec.calls[before:] if c.ok]

    async def push(self, data: str, **kwargs: Any) -> list[Call]:
        """Press a button; the calls it caused (failed ones included)."""
        before = len(self.rec.calls)
        await self.feed(press(data, **kwargs))
        return self.rec.calls[before:]


@pytest.fixture
async def make_tg(core, rec):
    """Build and initialise a Harness for a registry (the real one by default)."""
    apps = []

    async def make(registry: Registry | None = None) -> Harness:
        app = build_application(
            core,
            registry or load(),
            token="123456:TEST-token",
            request=rec,
            get_updates_request=RecordingRequest(),
        )
        await app.initialize()
        apps.append(app)
        return Harness(app, rec, core)

    yield make
    for app in apps:
        await app.shutdown()


@pytest.fixture
async def tg(make_tg) -> Harness:
    return await make_tg()
