"""Name suggestions for arguments that name something the user owns (autocomplete on Discord)."""

from __future__ import annotations

from core.actor import Actor
from core.app import Core
from core.model.service import model_labels
from core.strategy.service import strategy_labels

KINDS = ("model", "strategy", "model_or_strategy")


async def suggest_names(core: Core, actor: Actor, kind: str, current: str, limit: int = 25) -> list[str]:
    """The actor's labels of that kind: those starting with ``current`` first, then those containing it."""
    labels: list[str] = []
    if kind in ("model", "model_or_strategy"):
        labels += await model_labels(core.db, actor)
    if kind in ("strategy", "model_or_strategy"):
        labels += [s for s in await strategy_labels(core.db, actor) if s not in labels]
    typed = current.strip().lower()
    starts = [label for label in labels if label.lower().startswith(typed)]
    contains = [label for label in labels if typed in label.lower() and label not in starts]
    return (starts + contains)[:limit]
