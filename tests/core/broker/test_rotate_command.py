"""`python -m core.broker.crypto rotate` as an operator runs it: a fresh process on a real database.

The process imports nothing but the command, exactly like the README's instructions; afterwards
every stored key opens with the new master key alone, and the old key opens none of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.broker import crypto
from core.broker import service as brokers
from core.broker.models import Credential
from core.config import Settings
from core.db import Database
from core.errors import Unavailable

ROOT = Path(__file__).resolve().parents[3]
SECRET = "Zq8v1-very-secret-api-secret-0042"


def _run(command: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in a new interpreter, from a directory with no .env, only ``env`` configuring it."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "core.broker.crypto", command],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def _stored(db: Database) -> list[Credential]:
    async with db.session() as session:
        return list(await session.scalars(select(Credential).where(Credential.secret_token != "")))


@pytest.fixture
def url_of_db(db_backend: tuple[str, dict[str, Any]]) -> str:
    url, options = db_backend
    if options:  # a scratch schema (no CREATEDB right): a DATABASE_URL cannot select it
        pytest.skip("the PostgreSQL test database is a schema, which DATABASE_URL cannot name")
    return url


async def test_rotate_command_re_encrypts_every_key_on_a_real_database(db, url_of_db, alice, new_actor, tmp_path):
    old = Fernet.generate_key().decode()
    before = Settings(_env_file=None, broker_master_keys=[old])
    bob = await new_actor("bob")
    for who, label in ((alice, "main"), (alice, "spare"), (bob, "main")):
        await brokers.connect(db, who, "Binance", label, f"client-{label}-{who.user_id}-abcd", SECRET,
                              settings=before, verify=None)  # fmt: skip
    await brokers.paper_credential(db, alice)  # holds no token: left alone

    new = Fernet.generate_key().decode()
    done = _run("rotate", {"DATABASE_URL": url_of_db, "BROKER_MASTER_KEYS": json.dumps([new, old])}, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "re-encrypted 3 stored key(s)" in done.stdout
    assert "Traceback" not in done.stderr and SECRET not in done.stdout + done.stderr
    only_new = Settings(_env_file=None, broker_master_keys=[new])
    rows = await _stored(db)
    assert len(rows) == 3
    for row in rows:
        material = crypto.decrypt(only_new, row.secret_token, user_id=row.user_id, broker=row.broker)
        assert material.secret == SECRET
        with pytest.raises(Unavailable, match="cannot be decrypted"):  # the old key can be dropped now
            crypto.decrypt(before, row.secret_token, user_id=row.user_id, broker=row.broker)


async def test_rotate_command_keeps_keys_it_cannot_open_and_says_so(db, url_of_db, alice, tmp_path):
    lost = Fernet.generate_key().decode()
    await brokers.connect(db, alice, "Binance", "main", "client-main-abcd", SECRET,
                          settings=Settings(_env_file=None, broker_master_keys=[lost]), verify=None)  # fmt: skip
    token_before = (await _stored(db))[0].secret_token

    new = Fernet.generate_key().decode()
    done = _run("rotate", {"DATABASE_URL": url_of_db, "BROKER_MASTER_KEYS": new}, tmp_path)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 stored key(s) open with none of BROKER_MASTER_KEYS" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (await _stored(db))[0].secret_token == token_before  # untouched, still recoverable with its key
