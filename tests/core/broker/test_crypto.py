"""Keys at rest: Fernet tokens bound to their owner, rotation, and no key without a master key."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.broker import crypto
from core.broker import service as brokers
from core.broker.crypto import KeyMaterial
from core.broker.models import Credential
from core.config import Settings
from core.errors import Unavailable
from core.logging import scrub

SECRET = "Zq8v1-very-secret-api-secret-0042"
CLIENT = "binance-client-id-3fa9"


def test_round_trip_and_binding_to_the_row(settings):
    material = KeyMaterial(CLIENT, SECRET)
    token = crypto.encrypt(settings, material, user_id=7, broker="Binance")
    assert SECRET not in token and CLIENT not in token
    back = crypto.decrypt(settings, token, user_id=7, broker="Binance")
    assert (back.client_id, back.secret, back.passphrase) == (CLIENT, SECRET, None)
    with pytest.raises(Unavailable, match="does not belong"):  # a token copied onto another user's row
        crypto.decrypt(settings, token, user_id=8, broker="Binance")
    with pytest.raises(Unavailable, match="does not belong"):
        crypto.decrypt(settings, token, user_id=7, broker="OKX")


def test_key_material_never_prints_and_is_scrubbed_from_logs():
    material = KeyMaterial(CLIENT, SECRET, "my-okx-passphrase")
    assert repr(material) == "KeyMaterial(…3fa9)" and str(material) == repr(material)
    assert SECRET not in repr([material]) and CLIENT not in f"{material}"
    material.register()
    assert scrub(f"failed with {SECRET} and {CLIENT} and my-okx-passphrase") == "failed with *** and *** and ***"


def test_no_master_key_refuses_with_how_to_generate_one():
    bare = Settings(_env_file=None)
    with pytest.raises(Unavailable) as caught:
        crypto.encrypt(bare, KeyMaterial(CLIENT, SECRET), user_id=1, broker="Binance")
    assert "paper trading works" in caught.value.message
    assert "BROKER_MASTER_KEYS" in caught.value.hint and "Fernet.generate_key()" in caught.value.hint
    with pytest.raises(Unavailable, match="malformed"):
        crypto.require_master_key(Settings(_env_file=None, broker_master_keys=["not-a-fernet-key"]))


def test_old_keys_still_decrypt_and_new_tokens_use_the_first(settings, master_key):
    old_token = crypto.encrypt(settings, KeyMaterial(CLIENT, SECRET), user_id=1, broker="OKX")
    newest = Fernet.generate_key().decode()
    rotated = Settings(_env_file=None, broker_master_keys=[newest, master_key])
    assert crypto.decrypt(rotated, old_token, user_id=1, broker="OKX").secret == SECRET
    new_token = crypto.encrypt(rotated, KeyMaterial(CLIENT, SECRET), user_id=1, broker="OKX")
    Fernet(newest.encode()).decrypt(new_token.encode())  # made with the first key


async def test_rotate_re_encrypts_every_stored_token(db, settings, master_key, alice, caplog):
    for label in ("main", "spare"):
        await brokers.connect(db, alice, "Binance", label, CLIENT + label, SECRET, settings=settings, verify=None)
    await brokers.paper_credential(db, alice)  # no token: left alone
    newest = Fernet.generate_key().decode()
    both = Settings(_env_file=None, broker_master_keys=[newest, master_key])
    with caplog.at_level(logging.DEBUG):
        assert await crypto.rotate(db, both) == crypto.Rotation(rotated=2, unreadable=0)
    only_new = Settings(_env_file=None, broker_master_keys=[newest])
    async with db.session() as session:
        rows = list(await session.scalars(select(Credential).where(Credential.secret_token != "")))
    assert len(rows) == 2
    for row in rows:
        material = crypto.decrypt(only_new, row.secret_token, user_id=row.user_id, broker=row.broker)
        assert material.secret == SECRET
        with pytest.raises(Unavailable, match="cannot be decrypted"):
            crypto.decrypt(settings, row.secret_token, user_id=row.user_id, broker=row.broker)  # old key alone
    assert SECRET not in caplog.text
