"""The Model and Strategy domains on SQLite and PostgreSQL: rows stored, owners checked, names kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.account.service import actor_for
from core.errors import Conflict, Invalid, LimitExceeded, NotFound
from core.lifecycle import link
from core.model import service as models
from core.model.models import Model
from core.script import ScriptError
from core.strategy import service as strategies
from core.strategy.models import Rule, Strategy
from core.strategy.rules import Analytic

CROSS = 'fast = sma(close, input("fast", 10))\nslow = sma(close, 30)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)'


async def _actor(db, who: str, platform: str = "telegram"):
    return await actor_for(db, platform=platform, external_id=who, display_name=who)


async def test_models_belong_to_their_owner(db):
    ana, ben = await _actor(db, "1"), await _actor(db, "2")
    request = models.ModelRequest("Cross", CROSS, description="sma cross", inputs={"fast": 5})
    saved = await models.save_model(db, ana, request)
    assert saved.created and saved.model.declared == {"fast": 10} and saved.model.inputs == {"fast": 5}
    assert saved.model.kind == "long-only"

    assert (await models.get_model(db, ana, "cross")).label == "Cross"
    with pytest.raises(NotFound, match="you have no model 'cross'"):
        await models.get_model(db, ben, "cross")
    with pytest.raises(NotFound):
        await models.remove_model(db, ben, "Cross")

    page = await models.list_models(db, ben)
    assert page.total == 0 and page.items == []
    assert [m.label for m in (await models.list_models(db, ana)).items] == ["Cross"]


async def test_pagination_and_limits(db, monkeypatch):
    ana = await _actor(db, "1")
    for i in range(12):
        await models.save_model(db, ana, models.ModelRequest(f"m{i:02d}", "plot(close)"))
    first, last = await models.list_models(db, ana, 1, 5), await models.list_models(db, ana, 3, 5)
    assert [m.label for m in first.items] == ["m00", "m01", "m02", "m03", "m04"] and first.pages == 3
    assert [m.label for m in last.items] == ["m10", "m11"] and not last.has_next
    assert all(m.is_indicator for m in first.items)
    with pytest.raises(Invalid):
        await models.list_models(db, ana, 0)

    monkeypatch.setattr(models, "MAX_MODELS", 12)
    with pytest.raises(LimitExceeded):
        await models.save_model(db, ana, models.ModelRequest("one_more", "plot(close)"))
    await models.save_model(db, ana, models.ModelRequest("m00", "plot(open)"))  # replacing one is still allowed


async def test_invalid_models_are_refused_before_anything_is_stored(db):
    ana = await _actor(db, "1")
    with pytest.raises(ScriptError, match="line 1"):
        await models.save_model(db, ana, models.ModelRequest("bad", "buy = close >"))
    with pytest.raises(Invalid, match="not a valid model name"):
        await models.save_model(db, ana, models.ModelRequest("two words", CROSS))
    with pytest.raises(Invalid, match="no input 'slow'"):
        await models.save_model(db, ana, models.ModelRequest("x", CROSS, inputs={"slow": 3}))
    with pytest.raises(Invalid, match="input 'fast' must be a number, got 'ten'"):
        await models.save_model(db, ana, models.ModelRequest("x", CROSS, inputs={"fast": "ten"}))
    async with db.session() as session:
        assert list(await session.scalars(select(Model))) == []


async def test_copy_never_overwrites(db):
    ana = await _actor(db, "1")
    await models.save_model(db, ana, models.ModelRequest("cross", CROSS))
    with pytest.raises(Conflict):
        await models.save_model(db, ana, models.ModelRequest("CROSS", CROSS), create_only=True)


async def test_strategies_rules_all_or_nothing(db):
    ana, ben = await _actor(db, "1"), await _actor(db, "2")
    view, created = await strategies.save_strategy(db, ana, strategies.StrategyRequest("dip", "technical", "buy dips"))
    assert created and view.analytic is Analytic.TECHNICAL
    view, added = await strategies.add_rules(db, ana, "dip", "buy rsi(close, 14) < 30\nbuy close > sma(close, 200)")
    assert [r.number for r in view.rules] == [1, 2] and len(added) == 2
    with pytest.raises(ScriptError):  # the second rule is broken: neither is added
        await strategies.add_rules(db, ana, "dip", "sell rsi(close, 14) > 70; sell rsi(close 14) > 80")
    assert len((await strategies.get_strategy(db, ana, "dip")).rules) == 2
    with pytest.raises(Conflict, match="remove them before changing its analytic"):
        await strategies.save_strategy(db, ana, strategies.StrategyRequest("dip", Analytic.FUNDAMENTAL))
    with pytest.raises(NotFound):
        await strategies.add_rules(db, ben, "dip", "sell rsi(close, 14) > 70")

    view, gone = await strategies.remove_rules(db, ana, "dip", [1])
    assert [r.condition for r in gone] == ["rsi(close, 14) < 30"] and [r.number for r in view.rules] == [1]
    with pytest.raises(NotFound, match="has no rule 5"):
        await strategies.remove_rules(db, ana, "dip", [5])

    await strategies.remove_strategy(db, ana, "dip")
    async with db.session() as session:
        assert list(await session.scalars(select(Strategy))) == []
        assert list(await session.scalars(select(Rule))) == []


async def test_link_keeps_both_models_of_the_same_name(db):
    tg = await _actor(db, "111", "telegram")
    dc = await _actor(db, "222", "discord")
    await models.save_model(db, tg, models.ModelRequest("cross", CROSS))
    await models.save_model(db, dc, models.ModelRequest("Cross", "plot(close)"))
    await strategies.save_strategy(db, dc, strategies.StrategyRequest("dip"))
    issued = await link.issue_code(db, tg)
    await link.redeem_code(db, dc, issued.code)
    labels = [m.label for m in (await models.list_models(db, tg)).items]
    assert labels == ["cross", "Cross-2"]  # a name the bot accepts again (no spaces or brackets)
    assert (await models.get_model(db, tg, "cross-2")).is_indicator
    assert [s.label for s in (await strategies.list_strategies(db, tg)).items] == ["dip"]


async def test_rules_are_checked_off_the_event_loop_and_outside_a_session(db, monkeypatch):
    import threading

    from core.strategy import rules as rule_module

    ana = await _actor(db, "1")
    await strategies.save_strategy(db, ana, strategies.StrategyRequest("dip", "technical"))
    seen: list[bool] = []
    real = rule_module.split_rules

    def spy(text, analytic):
        seen.append(threading.current_thread() is threading.main_thread())
        return real(text, analytic)

    monkeypatch.setattr(strategies, "split_rules", spy)
    await strategies.add_rules(db, ana, "dip", "buy rsi(close, 14) < 30")
    assert seen == [False]

    def remove_meanwhile(text, analytic):  # the strategy goes while its rules are being checked
        import asyncio as aio

        aio.run_coroutine_threadsafe(strategies.remove_strategy(db, ana, "dip"), loop).result()
        return real(text, analytic)

    import asyncio

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(strategies, "split_rules", remove_meanwhile)
    with pytest.raises(NotFound, match="you have no strategy 'dip'"):
        await strategies.add_rules(db, ana, "dip", "sell rsi(close, 14) > 70")


async def test_inputs_are_checked_by_the_script_language_rules(db):
    ana = await _actor(db, "1")
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(Invalid, match="input 'fast' must be a finite number"):
            await models.save_model(db, ana, models.ModelRequest("Cross", CROSS, inputs={"fast": bad}))
    saved = await models.save_model(db, ana, models.ModelRequest("Cross", CROSS, inputs={"fast": 8.0}))
    assert saved.model.inputs == {"fast": 8} and isinstance(saved.model.inputs["fast"], int)
    with pytest.raises(Invalid, match="must be a finite number"):
        await models.update_model(db, ana, "Cross", inputs={"fast": float("nan")})
    with pytest.raises(Invalid, match="has no input 'fsat' — did you mean 'fast'"):
        await models.update_model(db, ana, "Cross", inputs={"fsat": 3})
    assert (await models.get_model(db, ana, "Cross")).inputs == {"fast": 8}
