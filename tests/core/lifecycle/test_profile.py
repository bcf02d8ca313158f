"""Profile: retrieve (details, plan, logins) and edit, every field validated with a clear message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.account.countries import COUNTRIES, ISO_COUNTRIES
from core.account.service import actor_for
from core.config import Settings
from core.db import utcnow
from core.errors import Invalid, NotFound
from core.lifecycle import profile
from core.media import service as media
from core.purchase.models import Purchase, Subscription

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _settings(tmp_path) -> Settings:
    return Settings(_env_file=None, media_dir=tmp_path / "media", free_max_deployments=3)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("ana@example.com", "ana@example.com"), ("  Ana.W+bot@Mail.Example.CO.ID ", "Ana.W+bot@mail.example.co.id"),
     ("o'brien@xn--bcher-kva.example", "o'brien@xn--bcher-kva.example")],
)  # fmt: skip
def test_good_emails(raw, stored):
    assert profile.check_email(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [("ana.example.com", "needs an @"), ("ana@", "not a valid email"), ("@example.com", "not a valid email"),
     ("ana@@example.com", "not a valid email"), ("ana@example", "not a valid email"),
     ("a..b@example.com", "not a valid email"), ("ana @example.com", "not a valid email"),
     ("ana@-example.com", "not a valid email"), ("x" * 65 + "@example.com", "at most 64"),
     ("a@" + "b" * 250 + ".com", "at most 254")],
)  # fmt: skip
def test_bad_emails_say_why(raw, message):
    with pytest.raises(Invalid, match=message):
        profile.check_email(raw)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("+62 812-3456-7890", "+6281234567890"), ("0812 3456 7890", "+6281234567890"),
     ("(+1) 415.555.2671", "+14155552671"), ("0044 20 7946 0958", "+442079460958"), ("+6512345678", "+6512345678")],
)  # fmt: skip
def test_phones_are_normalised_to_e164(raw, stored):
    assert profile.check_phone(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [("812345678", "needs its country code"), ("+62 812 abc", "use digits"), ("+1234567", "8 to 15 digits"),
     ("+1234567890123456", "8 to 15 digits"), ("+0812345678", "E.164")],
)  # fmt: skip
def test_bad_phones_say_why(raw, message):
    with pytest.raises(Invalid, match=message):
        profile.check_phone(raw)


def test_countries():
    assert len(ISO_COUNTRIES) == 249 and COUNTRIES["ID"] == "Indonesia" and "XK" in COUNTRIES
    assert profile.check_country(" sg ") == "SG"
    with pytest.raises(Invalid, match="'ZZ' is not an ISO 3166-1 country code"):
        profile.check_country("zz")
    with pytest.raises(Invalid, match="two letters"):
        profile.check_country("IDN")


@pytest.mark.parametrize(
    ("raw", "message"),
    [("http://example.com/a.png", "https:// URL"), ("javascript:alert(1)", "https:// URL"),
     ("https://user:pw@example.com/a.png", "user name or password"), ("https://exa mple.com/a", "spaces"),
     ("https://localhost/a.png", "no valid host"), ("https://" + "a" * 500 + ".com", "at most 500")],
)  # fmt: skip
def test_bad_image_urls(raw, message):
    with pytest.raises(Invalid, match=message):
        profile.check_image_url(raw)


def test_names():
    assert profile.check_name("  Ana   Wijaya ") == "Ana Wijaya"
    with pytest.raises(Invalid, match="at most 128"):
        profile.check_name("x" * 129)


async def test_profile_shows_details_plan_and_logins(db, tmp_path):
    settings = _settings(tmp_path)
    tg = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    view = await profile.get_profile(db, settings, tg)
    assert view.name == "Ana" and view.email is None and view.plan == "Free" and view.plan_ends_at is None
    assert view.limits.max_deployments == 3
    assert [(login.platform, login.display_name) for login in view.logins] == [("telegram", "Ana")]
    assert view.logins[0].first_seen_at <= view.logins[0].last_seen_at

    now = utcnow()
    async with db.session() as session:
        purchase = Purchase(user_id=tg.user_id, provider="Mock", subtotal=1, total=1, status="Paid")
        session.add(purchase)
        await session.flush()
        session.add(Subscription(user_id=tg.user_id, purchase_id=purchase.id, name="Pro", starts_at=now - timedelta(days=1),
                                 ends_at=now + timedelta(days=30), features={"max_deployments": 20}))  # fmt: skip
    view = await profile.get_profile(db, settings, tg)
    assert view.plan == "Pro" and view.limits.max_deployments == 20
    assert abs((view.plan_ends_at - (now + timedelta(days=30))).total_seconds()) < 1


async def test_editing_each_field(db, tmp_path):
    settings = _settings(tmp_path)
    actor = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    await profile.set_field(db, settings, actor, "name", "Ana Wijaya")
    await profile.set_field(db, settings, actor, "email", "Ana@Example.com")
    await profile.set_field(db, settings, actor, "phone", "0812-3456-7890")
    view = await profile.set_field(db, settings, actor, "country", "id")
    assert (view.name, view.email, view.phone, view.country_code) == (
        "Ana Wijaya",
        "Ana@example.com",
        "+6281234567890",
        "ID",
    )
    assert view.country == "ID (Indonesia)"

    view = await profile.set_field(db, settings, actor, "image", "https://cdn.example.com/ana.png")
    assert view.image == "https://cdn.example.com/ana.png"
    uploaded = await media.upload(db, settings, actor, PNG, "ana.png")
    view = await profile.set_field(db, settings, actor, "image", f"Media:{uploaded.id}")
    assert view.image == f"media:{uploaded.id}"

    cleared = await profile.set_field(db, settings, actor, "phone", "none")
    assert cleared.phone is None and cleared.email == "Ana@example.com"
    with pytest.raises(Invalid, match="name cannot be empty"):
        await profile.set_field(db, settings, actor, "name", "-")
    with pytest.raises(Invalid, match="no profile field 'age'"):
        await profile.set_field(db, settings, actor, "age", "30")
    with pytest.raises(Invalid, match="not a valid email"):
        await profile.set_field(db, settings, actor, "email", "ana@")
    assert (await profile.get_profile(db, settings, actor)).email == "Ana@example.com"  # unchanged


async def test_editing_several_fields_is_all_or_none(db, tmp_path):
    settings = _settings(tmp_path)
    actor = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    view = await profile.set_fields(db, settings, actor, {"name": "Ana W", "country_code": "sg", "phone": "+6591234567"})
    assert (view.name, view.country_code, view.phone) == ("Ana W", "SG", "+6591234567")
    with pytest.raises(Invalid, match="email"):
        await profile.set_fields(db, settings, actor, {"name": "Someone", "email": "nope"})
    with pytest.raises(Invalid, match="no profile field"):
        await profile.set_fields(db, settings, actor, {"name": "Someone", "nickname": "x"})
    with pytest.raises(NotFound):
        await profile.set_fields(db, settings, actor, {"name": "Someone", "image": "media:999"})
    after = await profile.get_profile(db, settings, actor)
    assert (after.name, after.email) == ("Ana W", None)  # nothing of a refused edit was stored
    cleared = await profile.set_fields(db, settings, actor, {"phone": "", "country_code": "-"})
    assert (cleared.phone, cleared.country_code, cleared.name) == (None, None, "Ana W")


async def test_image_must_be_the_users_own_image(db, tmp_path):
    settings = _settings(tmp_path)
    ana = await actor_for(db, platform="telegram", external_id="111")
    bob = await actor_for(db, platform="telegram", external_id="222")
    bobs = await media.upload(db, settings, bob, PNG, "bob.png")
    text = await media.upload(db, settings, ana, b"hello", "note.txt")
    with pytest.raises(NotFound, match=f"no file #{bobs.id}"):
        await profile.set_field(db, settings, ana, "image", bobs.ref)
    with pytest.raises(Invalid, match="not an image"):
        await profile.set_field(db, settings, ana, "image", text.ref)
    with pytest.raises(Invalid, match="not a media reference"):
        await profile.set_field(db, settings, ana, "image", "media:abc")


async def test_limits_carry_the_plan_end_read_once(db, tmp_path):
    from sqlalchemy import event

    from core.purchase.limits import limits_for

    settings = _settings(tmp_path)
    tg = await actor_for(db, platform="telegram", external_id="111", display_name="Ana")
    assert (await limits_for(db, settings, tg.user_id)).ends_at is None
    now = utcnow()
    async with db.session() as session:
        purchase = Purchase(user_id=tg.user_id, provider="Mock", subtotal=1, total=1, status="Paid")
        session.add(purchase)
        await session.flush()
        for name, days in (("Basic", 10), ("Pro", 40)):
            session.add(Subscription(user_id=tg.user_id, purchase_id=purchase.id, name=name,
                                     starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=days)))
        session.add(Subscription(user_id=tg.user_id, purchase_id=purchase.id, name="Queued",
                                 starts_at=now + timedelta(days=40), ends_at=now + timedelta(days=70)))
    limits = await limits_for(db, settings, tg.user_id, now)
    assert limits.ends_at == now + timedelta(days=40) and limits.plan == "Pro"  # queued periods not counted
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        view = await profile.get_profile(db, settings, tg, now)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert view.plan_ends_at == now + timedelta(days=40)
    assert len([s for s in statements if "FROM subscriptions" in s]) == 1
