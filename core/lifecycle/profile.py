"""A user's profile: who they are, their plan, where they log in from; and editing it.

Every field is validated here, with a message fit to show as it is: the name (plain text),
the email (syntax only, no network: a message must never wait on DNS), the image (a
``media:ID`` the user owns, or an https URL), the country (ISO 3166-1 alpha-2, from the list
in ``core.account.countries``) and the phone (E.164).

Phone numbers are normalised before checking: spaces, dashes, dots and brackets are dropped,
a leading ``00`` becomes ``+``, and an Indonesian local number (``08...``, the common way to
write a mobile number there) becomes ``+628...``. Other local forms need the country code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from core.account.countries import COUNTRIES, country_name
from core.account.models import Identity, User
from core.actor import Actor
from core.config import Settings
from core.db import Database, utcnow
from core.errors import Invalid, NotFound
from core.media.models import Media
from core.media.service import parse_ref
from core.media.sniff import IMAGES
from core.purchase.limits import Limits, limits_for

FIELDS = {
    "name": "how the bot calls you (1-128 characters)",
    "email": "an email address, like ana@example.com",
    "image": "media:ID of a file you uploaded (/upload), or an https:// image URL",
    "country": "a two-letter ISO country code, like ID, SG or US",
    "phone": "an international number, like +62 812-3456-7890 (08... is read as Indonesian)",
}
CLEAR_WORDS = frozenset({"-", "none", "clear", "remove"})
MAX_NAME = 128
MAX_URL = 500

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    rf"^(?P<local>{_LOCAL})@(?P<domain>(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}}))$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_NOISE = re.compile(r"[\s\-.()/]")
_HOST = re.compile(rf"^(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$|^xn--")


@dataclass(frozen=True, slots=True)
class Login:
    """One linked platform identity: where and when the user has been seen."""

    platform: str
    display_name: str
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    user_id: int
    name: str
    email: str | None
    image: str | None
    country_code: str | None
    phone: str | None
    created_at: datetime
    last_seen_at: datetime
    limits: Limits
    plan_ends_at: datetime | None  # when the active subscription ends; None on the free tier
    logins: tuple[Login, ...]

    @property
    def plan(self) -> str:
        return self.limits.plan

    @property
    def country(self) -> str | None:
        """``ID (Indonesia)`` for display."""
        name = country_name(self.country_code)
        return f"{self.country_code} ({name})" if name else self.country_code


# -- validation --------------------------------------------------------------------------------


def check_name(value: str) -> str:
    name = " ".join((value or "").split())
    if not name:
        raise Invalid("a name cannot be empty")
    if len(name) > MAX_NAME:
        raise Invalid(f"a name has at most {MAX_NAME} characters, not {len(name)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise Invalid("a name cannot contain control characters")
    return name


def check_email(value: str) -> str:
    """The address with its domain lower-cased; Invalid with the reason when the syntax is wrong."""
    text = (value or "").strip()
    if "@" not in text:
        raise Invalid(f"'{text}' is not an email address: it needs an @, like ana@example.com")
    if len(text) > 254:
        raise Invalid("an email address has at most 254 characters")
    match = _EMAIL.match(text)
    if match is None:
        raise Invalid(f"'{text}' is not a valid email address, like ana@example.com")
    local, domain = match.group("local"), match.group("domain")
    if len(local) > 64:
        raise Invalid("the part before the @ has at most 64 characters")
    return f"{local}@{domain.lower()}"


def normalise_phone(value: str) -> str:
    """Spaces, dashes, dots and brackets dropped; ``00`` to ``+``; Indonesian ``08...`` to ``+628...``."""
    text = _PHONE_NOISE.sub("", (value or "").strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text.startswith("08"):
        text = "+62" + text[1:]
    return text


def check_phone(value: str) -> str:
    text = normalise_phone(value)
    if not text.startswith("+"):
        raise Invalid(
            f"'{value.strip()}' needs its country code: write it like +62 812 3456 7890",
            hint="an Indonesian mobile number starting 08 is converted for you",
        )
    if not text[1:].isdigit():
        raise Invalid(f"'{value.strip()}' is not a phone number: use digits after the +")
    if not _E164.match(text):
        raise Invalid(f"'{value.strip()}' is not an international (E.164) number: + and 8 to 15 digits")
    return text


def check_country(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise Invalid(f"'{value.strip()}' is not a country code: use two letters, like ID, SG or US")
    if code not in COUNTRIES:
        raise Invalid(
            f"'{code}' is not an ISO 3166-1 country code", hint="examples: ID Indonesia, SG Singapore"
        )
    return code


def check_image_url(value: str) -> str:
    text = (value or "").strip()
    if len(text) > MAX_URL:
        raise Invalid(f"an image URL has at most {MAX_URL} characters")
    if any(ch.isspace() for ch in text):
        raise Invalid("an image URL cannot contain spaces")
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise Invalid("an image must be media:ID (see /media) or an https:// URL")
    if parts.username or parts.password:
        raise Invalid("an image URL cannot carry a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host or not _HOST.match(host):
        raise Invalid(f"'{text}' has no valid host name")
    return text


# -- the service -------------------------------------------------------------------------------


async def get_profile(db: Database, settings: Settings, actor: Actor, now: datetime | None = None) -> Profile:
    """The actor's details, plan and limits, and every platform they log in from."""
    now = now or utcnow()
    async with db.session() as session:
        user = await session.get(User, actor.user_id)
        if user is None:
            raise NotFound("your account no longer exists; send any message to start again")
        identities = list(
            await session.scalars(
                select(Identity).where(Identity.user_id == actor.user_id).order_by(Identity.first_seen_at)
            )
        )
    limits = await limits_for(db, settings, actor.user_id, now)
    logins = tuple(Login(i.platform, i.display_name, i.first_seen_at, i.last_seen_at) for i in identities)
    return Profile(
        user_id=user.id, name=user.name, email=user.email, image=user.image, country_code=user.country_code,
        phone=user.phone, created_at=user.created_at, last_seen_at=user.last_seen_at, limits=limits,
        plan_ends_at=limits.ends_at, logins=logins,
    )  # fmt: skip


async def set_field(db: Database, settings: Settings, actor: Actor, field: str, value: str | None) -> Profile:
    """Change one field (``FIELDS``); an empty value or ``-``/``none``/``clear`` clears it
    (the name cannot be cleared). Returns the profile after the change."""
    return await set_fields(db, settings, actor, {field: value})


async def set_fields(db: Database, settings: Settings, actor: Actor, changes: dict[str, str | None]) -> Profile:
    """Change several fields as ``set_field`` changes one, all or none: every value is checked
    before any is stored. Returns the profile after the change."""
    wanted: dict[str, str] = {}
    for name, value in changes.items():
        field = (name or "").strip().lower()
        if field == "country_code":
            field = "country"
        if field not in FIELDS:
            raise Invalid(f"there is no profile field '{field}'", hint="fields: " + ", ".join(FIELDS))
        raw = (value or "").strip()
        if (not raw or raw.lower() in CLEAR_WORDS) and field == "name":
            raise Invalid("a name cannot be empty", hint="/profile set name YOUR NAME")
        wanted[field] = raw
    async with db.session() as session:
        user = await session.get(User, actor.user_id)
        if user is None:
            raise NotFound("your account no longer exists; send any message to start again")
        checked: dict[str, str | None] = {}
        for field, raw in wanted.items():
            column = "country_code" if field == "country" else field
            if not raw or raw.lower() in CLEAR_WORDS:
                checked[column] = None
            elif field == "name":
                checked[column] = check_name(raw)
            elif field == "email":
                checked[column] = check_email(raw)
            elif field == "phone":
                checked[column] = check_phone(raw)
            elif field == "country":
                checked[column] = check_country(raw)
            else:
                checked[column] = await _check_image(session, actor, raw)
        for column, value in checked.items():
            setattr(user, column, value)
    return await get_profile(db, settings, actor)


async def _check_image(session, actor: Actor, value: str) -> str:
    media_id = parse_ref(value)
    if media_id is None:
        return check_image_url(value)
    content_type = await session.scalar(
        select(Media.content_type).where(Media.id == media_id, Media.user_id == actor.user_id)
    )
    if content_type is None:
        raise NotFound(f"you have no file #{media_id}", hint="upload one with /upload, then see /media")
    if content_type not in IMAGES:
        raise Invalid(f"file #{media_id} is not an image ({content_type}): pick a PNG, JPEG, GIF or WEBP")
    return f"media:{media_id}"
