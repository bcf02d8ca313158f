"""Account: Retrieve User Account, Edit User Account, Delete User Account (as ``/me``,
``/profile set`` and ``/deleteaccount``).

Deleting needs ``?confirm=true``, as the chat's confirmation button: without it nothing is removed
and the answer says what would be.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.common import Reader, Trader, core_of
from api.problems import PROBLEMS
from core.errors import Invalid
from core.lifecycle import deletion
from core.lifecycle import profile as profiles
from core.lifecycle.profile import Profile
from core.purchase import service as purchases

router = APIRouter(prefix="/v1", responses=PROBLEMS)


class LoginOut(BaseModel):
    platform: str
    display_name: str
    first_seen_at: datetime
    last_seen_at: datetime


class SubscriptionOut(BaseModel):
    name: str
    starts_at: datetime
    ends_at: datetime


class AccountOut(BaseModel):
    user_id: int
    name: str
    email: str | None
    image: str | None
    country_code: str | None
    phone: str | None
    plan: str
    plan_ends_at: datetime | None
    subscriptions: list[SubscriptionOut]
    logins: list[LoginOut]
    created_at: datetime
    last_seen_at: datetime

    @staticmethod
    def of(view: Profile, subs: tuple[purchases.SubscriptionView, ...]) -> AccountOut:
        return AccountOut(user_id=view.user_id, name=view.name, email=view.email, image=view.image,
                          country_code=view.country_code, phone=view.phone, plan=view.plan,
                          plan_ends_at=view.plan_ends_at, created_at=view.created_at, last_seen_at=view.last_seen_at,
                          subscriptions=[SubscriptionOut(name=s.name, starts_at=s.starts_at, ends_at=s.ends_at)
                                         for s in subs],
                          logins=[LoginOut(platform=i.platform, display_name=i.display_name,
                                           first_seen_at=i.first_seen_at, last_seen_at=i.last_seen_at)
                                  for i in view.logins])  # fmt: skip


class EditAccount(BaseModel):
    """Only the fields given change; an empty string clears one (not the name). All or none."""

    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    image: str | None = Field(default=None, max_length=600, description="media:ID (Upload Media) or an https:// URL")
    country_code: str | None = Field(default=None, max_length=8, description="two letters, like ID")
    phone: str | None = Field(default=None, max_length=32, description="international, like +62 812 3456 7890")


class Deleted(BaseModel):
    user_id: int
    rows: dict[str, int] = Field(description="stored items removed, by kind")
    total: int
    files_deleted: int


@router.get("/account", summary="Retrieve User Account", tags=["Account"], response_model=AccountOut)
async def retrieve_account(request: Request, caller: Reader) -> AccountOut:
    core = core_of(request)
    view = await profiles.get_profile(core.db, core.settings, caller.actor)
    return AccountOut.of(view, await purchases.subscriptions(core.db, caller.actor))


@router.put("/account", summary="Edit User Account", tags=["Account"], response_model=AccountOut)
async def edit_account(body: EditAccount, request: Request, caller: Trader) -> AccountOut:
    core = core_of(request)
    view = await profiles.set_fields(core.db, core.settings, caller.actor, body.model_dump(exclude_none=True))
    return AccountOut.of(view, await purchases.subscriptions(core.db, caller.actor))


@router.delete("/account", summary="Delete User Account", tags=["Account"], response_model=Deleted)
async def delete_account(request: Request, caller: Trader, confirm: Annotated[bool, Query()] = False) -> Deleted:
    core = core_of(request)
    if not confirm:
        counts = await deletion.summary(core.db, caller.actor)
        what = ", ".join(f"{n} {table}" for table, n in counts.items()) or "your profile"
        raise Invalid(f"this deletes for good: {what}", hint="send confirm=true to delete the account")
    report = await deletion.delete_account(core.db, core.settings, caller.actor)
    return Deleted(user_id=report.user_id, rows=report.rows, total=report.total, files_deleted=report.files_deleted)

