"""Keys at rest, the edges (issue 16, ``make mutate``): every field survives the round trip and is masked,
blank master keys are skipped, a token no key opens is counted and left as it is, the hint's length rule."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from core.broker import crypto
from core.broker import service as brokers
from core.broker.crypto import KeyMaterial, key_hint
from core.broker.models import Credential
from core.config import Settings
from core.errors import Unavailable
from core.logging import scrub


def test_every_field_comes_back_and_is_masked_in_logs_once_decrypted(settings):
    import secrets

    # fresh values: the log scrubber remembers secrets for the whole process
    client, secret, passphrase = (f"okx-{kind}-{secrets.token_hex(8)}" for kind in ("client", "secret", "pass"))
    material = KeyMaterial(client, secret, passphrase, "sub-account-5")
    token = crypto.encrypt(settings, material, user_id=3, broker="OKX")
    assert all(value not in token for value in (client, secret, passphrase))
    assert scrub(f"{client} {secret} {passphrase}") == f"{client} {secret} {passphrase}"  # not known yet
    back = crypto.decrypt(settings, token, user_id=3, broker="OKX")
    assert (back.client_id, back.secret, back.passphrase, back.account) == (client, secret, passphrase, "sub-account-5")
    assert scrub(f"{client} {secret} {passphrase}") == "*** *** ***"


def test_the_hint_is_the_last_four_characters_of_an_id_longer_than_eight():
    assert key_hint("abcdefgh") == ""  # too short: four characters would give half of it away
    assert key_hint("abcdefghi") == "fghi"
    assert KeyMaterial("abcdefghi", "s").hint == "fghi" and repr(KeyMaterial("abcdefghi", "s")) == "KeyMaterial(…fghi)"


def test_blank_master_keys_are_skipped_and_padded_ones_trimmed(master_key):
    padded = Settings(_env_file=None, broker_master_keys=["   ", f"  {master_key}\n"])
    token = crypto.encrypt(padded, KeyMaterial("client-id-123456", "s3cret"), user_id=1, broker="Binance")
    Fernet(master_key.encode()).decrypt(token.encode())  # made with the padded key, the blank one skipped
    assert crypto.decrypt(padded, token, user_id=1, broker="Binance").secret == "s3cret"
    with pytest.raises(Unavailable) as refused:
        crypto.require_master_key(Settings(_env_file=None, broker_master_keys=["  ", ""]))
    assert refused.value.message == "this bot is not set up to store exchange keys (paper trading works)"
    assert refused.value.hint == crypto.GENERATE_HINT
    with pytest.raises(Unavailable) as malformed:
        crypto.require_master_key(Settings(_env_file=None, broker_master_keys=["not-a-fernet-key"]))
    assert (malformed.value.message, malformed.value.hint) == (
        "the bot's BROKER_MASTER_KEYS setting is malformed", crypto.GENERATE_HINT)


def test_a_token_no_configured_key_opens_says_which_key_must_stay(settings):
    other = Settings(_env_file=None, broker_master_keys=[Fernet.generate_key().decode()])
    token = crypto.encrypt(other, KeyMaterial("client-id-123456", "s3cret"), user_id=1, broker="Binance")
    with pytest.raises(Unavailable) as refused:
        crypto.decrypt(settings, token, user_id=1, broker="Binance")
    assert refused.value.message == "a stored exchange key cannot be decrypted with the configured BROKER_MASTER_KEYS"
    assert refused.value.hint == "the key it was encrypted with must stay in BROKER_MASTER_KEYS until `rotate` has run"
    with pytest.raises(Unavailable) as foreign:
        crypto.decrypt(other, token, user_id=2, broker="Binance")
    assert foreign.value.message == "a stored exchange key does not belong to its credential row"


async def test_rotate_counts_a_token_no_key_opens_and_leaves_it_as_it_is(db, settings, master_key, alice):
    for label in ("main", "spare"):
        await brokers.connect(db, alice, "Binance", label, "client-id-" + label, "s3cret", settings=settings, verify=None)
    stranger = Settings(_env_file=None, broker_master_keys=[Fernet.generate_key().decode()])
    foreign = crypto.encrypt(stranger, KeyMaterial("client-id-x", "s3cret"), user_id=alice.user_id, broker="Binance")
    async with db.session() as session:
        await session.execute(update(Credential).where(Credential.label == "spare").values(secret_token=foreign))
    await brokers.connect(db, alice, "Binance", "third", "client-id-third", "s3cret", settings=settings, verify=None)
    async with db.session() as session:
        await session.execute(update(Credential).where(Credential.label == "third").values(secret_token=foreign))
    newest = Fernet.generate_key().decode()
    both = Settings(_env_file=None, broker_master_keys=[newest, master_key])
    assert await crypto.rotate(db, both) == crypto.Rotation(rotated=1, unreadable=2)
    async with db.session() as session:
        tokens = dict((await session.execute(select(Credential.label, Credential.secret_token))).all())
    assert tokens["spare"] == foreign
    only_new = Settings(_env_file=None, broker_master_keys=[newest])
    assert crypto.decrypt(only_new, tokens["main"], user_id=alice.user_id, broker="Binance").secret == "s3cret"
