"""The Model domain: save, list, load and remove trading models.

A model is a script in the model language (core.script) with a label, a description, whether
its plots go on the price panel (``overlay``) and saved input values. Saving parses the script
first, so a stored model always parses; running it is ``core.model.execute``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.actor import Actor
from core.db import Database, parse_id, utcnow
from core.errors import Conflict, Invalid, LimitExceeded, NotFound
from core.labels import check_label, did_you_mean, label_key
from core.model.models import Model
from core.paging import Page, fetch_page

MAX_MODELS = 100
MAX_DESCRIPTION = 500


def check_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise Invalid(f"a description has at most {MAX_DESCRIPTION} characters")


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """A model to save, as ``/model save`` or the API's Save Model body gives it (plain values).

    ``source``: the script, or a file's bytes (checked as UTF-8 without NULs when parsed).
    ``description``/``overlay`` None: a new model's defaults (none, on the price panel), an
    existing one's kept. ``inputs``: saved values over the script's ``input()`` defaults, checked
    against the script when saving. Construction checks what needs no script: the label's form
    and the description's length.
    """

    label: str
    source: str | bytes
    description: str | None = None
    overlay: bool | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", check_label(self.label, "model name"))  # frozen: normalised once
        object.__setattr__(self, "inputs", dict(self.inputs or {}))
        check_description(self.description)


@dataclass(frozen=True, slots=True)
class ModelView:
    id: int
    label: str
    description: str
    overlay: bool
    source: str
    inputs: dict[str, Any]  # saved values, overriding the script's input() defaults
    declared: dict[str, Any]  # the script's input() names and defaults
    outputs: frozenset[str]  # buy, sell, short, cover, stop_loss, take_profit the script assigns
    created_at: datetime
    updated_at: datetime

    @property
    def is_indicator(self) -> bool:
        return not self.outputs & {"buy", "sell", "short"}

    @property
    def kind(self) -> str:
        if self.is_indicator:
            return "indicator"
        return "long/short" if "short" in self.outputs else "long-only"

    @classmethod
    def from_row(cls, row: Model) -> Self:
        from core.script import program_of

        program = program_of(row.source)  # parsed once per distinct script, not per row and call
        return cls(
            id=row.id,
            label=row.label,
            description=row.description,
            overlay=row.overlay,
            source=row.source,
            inputs=dict(row.inputs or {}),
            declared=dict(program.inputs),
            outputs=frozenset(program.outputs),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class Saved:
    model: ModelView
    created: bool  # False: an existing model of that name was replaced


def check_inputs(declared: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """Input values checked against the script's ``input()`` declarations, by the script
    language's own rules (a ScriptError, i.e. Invalid: unknown name, wrong type, NaN or infinity)."""
    from core.script import check_inputs as script_inputs

    return script_inputs(declared, given)


async def save_model(
    db: Database, actor: Actor, request: ModelRequest, *, copied_from: int | None = None, create_only: bool = False
) -> Saved:
    """Create the model, or replace the script of the actor's model of that label
    (Conflict instead when ``create_only``). ``copied_from``: the share it was copied from."""
    from core.script import parse, program_of

    label, source, description, overlay = request.label, request.source, request.description, request.overlay
    # A ScriptError (Invalid) with line, column and caret; a file's bytes are checked (UTF-8, no NULs) by parse.
    program = parse(source) if isinstance(source, bytes) else program_of(source)
    if isinstance(source, bytes):  # a file's bytes: parse() has checked they are UTF-8 without NULs
        source = source.decode("utf-8")
    values = check_inputs(dict(program.inputs), dict(request.inputs))
    now = utcnow()
    async with db.session() as session:
        row = await _find(session, actor, label)
        created = row is None
        if row is not None and create_only:
            raise Conflict(f"you already have a model '{row.label}'", hint="give the copy another name")
        if row is None:
            count = await session.scalar(select(func.count()).select_from(Model).where(Model.user_id == actor.user_id))
            if (count or 0) >= MAX_MODELS:
                raise LimitExceeded(f"you have {MAX_MODELS} models, the most one account keeps: remove one first")
            row = Model(
                user_id=actor.user_id,
                label=label,
                label_key=label_key(label),
                description=description or "",
                overlay=True if overlay is None else overlay,
                source=source,
                inputs=values,
                copied_from=copied_from,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        else:
            row.source = source
            row.inputs = values
            row.updated_at = now
            if description is not None:
                row.description = description
            if overlay is not None:
                row.overlay = overlay
        await session.flush()
        return Saved(ModelView.from_row(row), created)


async def list_models(db: Database, actor: Actor, page: int = 1, page_size: int = 10) -> Page[ModelView]:
    mine = select(Model).where(Model.user_id == actor.user_id).order_by(Model.label_key)
    async with db.session() as session:
        rows, total = await fetch_page(session, mine, page, page_size)
        items = [ModelView.from_row(r) for r in rows.scalars()]
    return Page(items, page, page_size, total)


async def get_model(db: Database, actor: Actor, label: str) -> ModelView:
    async with db.session() as session:
        return ModelView.from_row(await _get(session, actor, label))


async def model_by_ref(db: Database, actor: Actor, ref: str) -> ModelView:
    """The actor's model whose id or name ``ref`` is (the API's ``model_id`` may be either): an id
    first, as lists show them, then a name (a model may be named ``2024``)."""
    ref = ref.strip()
    model_id = parse_id(ref)
    if model_id is not None:
        async with db.session() as session:
            row = await session.scalar(select(Model).where(Model.user_id == actor.user_id, Model.id == model_id))
            if row is not None:
                return ModelView.from_row(row)
    return await get_model(db, actor, ref)


async def remove_model(db: Database, actor: Actor, label: str) -> ModelView:
    async with db.session() as session:
        row = await _get(session, actor, label)
        view = ModelView.from_row(row)
        await session.delete(row)
    return view


async def update_model(
    db: Database,
    actor: Actor,
    label: str,
    *,
    description: str | None = None,
    overlay: bool | None = None,
    inputs: dict[str, Any] | None = None,
) -> ModelView:
    """Change a model's description, overlay flag or saved input values (``/run`` overrides are
    per run; these persist). The script is changed by saving it again."""
    check_description(description)
    async with db.session() as session:
        row = await _get(session, actor, label)
        view = ModelView.from_row(row)
        if inputs:
            row.inputs = {**row.inputs, **check_inputs(view.declared, inputs)}
        if description is not None:
            row.description = description
        if overlay is not None:
            row.overlay = overlay
        row.updated_at = utcnow()
        await session.flush()
        return ModelView.from_row(row)


async def model_labels(db: Database, actor: Actor) -> list[str]:
    async with db.session() as session:
        return list(
            await session.scalars(select(Model.label).where(Model.user_id == actor.user_id).order_by(Model.label_key))
        )


async def _find(session: AsyncSession, actor: Actor, label: str) -> Model | None:
    return await session.scalar(
        select(Model).where(Model.user_id == actor.user_id, Model.label_key == label_key(label))
    )


async def _get(session: AsyncSession, actor: Actor, label: str) -> Model:
    row = await _find(session, actor, label)
    if row is None:
        labels = await session.scalars(select(Model.label).where(Model.user_id == actor.user_id))
        raise NotFound(f"you have no model '{label}'{did_you_mean(label, labels)}", hint="see /models")
    return row
