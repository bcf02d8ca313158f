"""Exchange keys encrypted at rest.

A credential's key material (client id, secret, passphrase) is stored as one Fernet token made
with the first of ``BROKER_MASTER_KEYS``; every listed key decrypts (``MultiFernet``), so an admin
rotates by putting a new key in front (keeping the old one listed), restarting, and running
``rotate`` (``python -m core.broker.crypto rotate``) before dropping the old key: it re-encrypts
every stored token with the first key and exits non-zero when a token opens with none of them.
The plaintext also names the owner and the broker, so a token copied onto another row (someone
with write access to the database) does not decrypt there. Without a master key nothing live can be stored: paper accounts need none.

Values only leave this module inside ``KeyMaterial``, whose repr hides them, and each is
registered with ``core.logging.remember_secret`` when decrypted, so no log line can carry it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.config import Settings
from core.errors import Unavailable
from core.logging import remember_secret

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from core.db import Database

GENERATE_HINT = (
    "The bot's admin must set BROKER_MASTER_KEYS; generate a key with: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
HINT_CHARS = 4


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """What an exchange needs to sign requests. Never printed: repr shows the hint only."""

    client_id: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)
    account: str | None = field(default=None, repr=False)  # Cex.io: the sub-account orders go to

    @property
    def hint(self) -> str:
        return key_hint(self.client_id)

    def register(self) -> None:
        """Mask these values in later log records. Only for keys an exchange accepted (stored ones):
        registering unchecked input would let anyone hide any word from the logs."""
        for value in (self.client_id, self.secret, self.passphrase):
            remember_secret(value)

    def __repr__(self) -> str:
        return f"KeyMaterial(…{self.hint})"


def key_hint(client_id: str) -> str:
    """The last four characters of the client id: enough to tell keys apart, useless to an attacker."""
    return client_id[-HINT_CHARS:] if len(client_id) > HINT_CHARS * 2 else ""


def require_master_key(settings: Settings) -> None:
    """Unavailable, telling the admin how to make one, unless a usable master key is configured."""
    _keyring(settings)


def _keyring(settings: Settings) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    keys = [k.get_secret_value().strip() for k in settings.broker_master_keys if k.get_secret_value().strip()]
    if not keys:
        raise Unavailable("this bot is not set up to store exchange keys (paper trading works)", hint=GENERATE_HINT)
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError:  # not 32 url-safe base64 bytes; the message never includes the key
        raise Unavailable("the bot's BROKER_MASTER_KEYS setting is malformed", hint=GENERATE_HINT) from None


def encrypt(settings: Settings, material: KeyMaterial, *, user_id: int, broker: str) -> str:
    """The token stored in ``Credential.secret_token``."""
    plain = {
        "u": user_id,
        "b": broker,
        "k": material.client_id,
        "s": material.secret,
        "p": material.passphrase,
        "a": material.account,
    }
    return _keyring(settings).encrypt(json.dumps(plain).encode()).decode()


def decrypt(settings: Settings, token: str, *, user_id: int, broker: str) -> KeyMaterial:
    """The key material of a stored token; Unavailable when no configured key opens it."""
    from cryptography.fernet import InvalidToken

    try:
        plain = json.loads(_keyring(settings).decrypt(token.encode()))
    except InvalidToken:
        raise Unavailable(
            "a stored exchange key cannot be decrypted with the configured BROKER_MASTER_KEYS",
            hint="the key it was encrypted with must stay in BROKER_MASTER_KEYS until `rotate` has run",
        ) from None
    if plain.get("u") != user_id or plain.get("b") != broker:
        raise Unavailable("a stored exchange key does not belong to its credential row")
    material = KeyMaterial(plain["k"], plain["s"], plain.get("p"), plain.get("a"))
    material.register()
    return material


@dataclass(frozen=True, slots=True)
class Rotation:
    """What ``rotate`` did: tokens rewritten with the first key, and tokens no configured key opens."""

    rotated: int
    unreadable: int


async def rotate(db: Database, settings: Settings) -> Rotation:
    """Re-encrypt every stored token with the first master key.

    A token no configured key opens is left as it is (it is still recoverable with the key that
    made it) and counted, so the operator knows not to drop any key yet.
    """
    from cryptography.fernet import InvalidToken
    from sqlalchemy import select

    from core.db.migrate import import_models

    import_models()  # Credential's foreign keys name users: the mapper needs every table, not just one
    from core.broker.models import Credential

    keyring = _keyring(settings)
    rotated = unreadable = 0
    async with db.session() as session:
        rows = await session.scalars(select(Credential).where(Credential.secret_token != ""))
        for row in rows:
            try:
                row.secret_token = keyring.rotate(row.secret_token.encode()).decode()
            except InvalidToken:
                unreadable += 1
            else:
                rotated += 1
    return Rotation(rotated, unreadable)


def _main(argv: list[str]) -> int:
    import asyncio
    import sys

    from core.config import get_settings
    from core.db import Database

    if argv[:1] == ["generate"]:
        from cryptography.fernet import Fernet

        print(Fernet.generate_key().decode())
        return 0
    if argv[:1] == ["rotate"]:
        settings = get_settings()

        async def run() -> Rotation:
            require_master_key(settings)  # before touching the database
            db = Database(settings.database_url)
            try:
                await db.migrate()  # the schema the bot itself would run on (it migrates at every start)
                return await rotate(db, settings)
            finally:
                await db.dispose()

        try:
            done = asyncio.run(run())
        except Unavailable as exc:  # no or malformed BROKER_MASTER_KEYS: say how to fix it, no traceback
            print(f"{exc.message}\n{exc.hint or ''}".strip(), file=sys.stderr)
            return 1
        print(f"re-encrypted {done.rotated} stored key(s) with the first BROKER_MASTER_KEYS key")
        if done.unreadable:
            print(
                f"{done.unreadable} stored key(s) open with none of BROKER_MASTER_KEYS and were left as they are: "
                "keep every old key listed until they are rotated too (or their owners reconnect them)",
                file=sys.stderr,
            )
            return 1
        print("every stored key now opens with the first key alone: the others can be removed")
        return 0
    print("usage: python -m core.broker.crypto generate|rotate")
    return 2


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
