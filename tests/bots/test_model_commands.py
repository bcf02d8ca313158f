"""Models, strategies and sharing through the registry: replies, charts and stored rows."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bots.registry import Context
from core.account.service import actor_for
from core.message import Message
from core.model.models import Model
from core.notify import ChatTarget
from core.sharing.models import Share
from core.strategy.models import Rule, Strategy

EMA_CROSS = """# EMA cross with an RSI filter
fast = ema(close, input("fast", 12))
slow = ema(close, input("slow", 26))
plot(fast, "EMA fast")
plot(slow, "EMA slow")
buy  = crossover(fast, slow) and rsi(close, 14) < 70
sell = crossunder(fast, slow)
stop_loss   = 0.05     # optional: leave a long 5 % below its entry
take_profit = 0.12     # optional
"""


def _png(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


async def _models(console) -> list[Model]:
    async with console.core.db.session() as session:
        return list(await session.scalars(select(Model)))


async def test_save_show_list_run_and_remove_a_model(console):
    saved = await console.handle("/model save ema_cross\n" + EMA_CROSS)
    assert not saved.error, saved.text
    assert saved.text.startswith("Saved model 'ema_cross' (long-only).")
    assert "Inputs: fast=12, slow=26" in saved.text
    [row] = await _models(console)
    assert (row.label, row.user_id, row.description) == ("ema_cross", console.actor.user_id, "EMA cross with an RSI filter")
    assert row.source.strip() == EMA_CROSS.strip()

    listed = await console.handle("/models")
    assert "• ema_cross (long-only) · EMA cross with an RSI filter" in listed.text
    shown = await console.handle("/model show EMA_CROSS")  # names are case-insensitive
    assert "buy  = crossover(fast, slow) and rsi(close, 14) < 70" in shown.text

    run = await console.handle("/run ema_cross BBCA 1d 1y fast=8")
    assert not run.error, run.text
    lines = run.text.splitlines()
    assert lines[0].startswith("ema_cross · BBCA 1d · 1y")
    assert "Inputs: fast=8, slow=26" in lines
    assert any(line.startswith("Return ") and "Buy & Hold" in line for line in lines)
    assert "lots of 100" in run.text and "SAMPLE DATA" in run.text
    assert len(run.images) == 1
    image = _png(run.images[0].data)
    assert image.width == 1200
    assert any(b.command == "/share ema_cross BBCA 1d 1y" for row in run.buttons for b in row)

    ask = await console.handle("/model rm ema_cross")
    assert "Remove model 'ema_cross'?" in ask.text and len(await _models(console)) == 1
    gone = await console.handle("/model rm ema_cross --yes")
    assert gone.text == "Removed model 'ema_cross'." and await _models(console) == []


async def test_saving_again_updates_and_code_fences_are_stripped(console):
    await console.handle("/model save m1\nbuy = close > open\nsell = close < open")
    updated = await console.handle("/model save m1\n```\nbuy = close > sma(close, 5)\nsell = close < open\n```")
    assert updated.text.startswith("Updated model 'm1'")
    [row] = await _models(console)
    assert row.source == "buy = close > sma(close, 5)\nsell = close < open"


async def test_script_errors_point_at_the_spot_and_store_nothing(console):
    reply = await console.handle("/model save bad\nfast = emaa(close, 3)\nbuy = fast > close")
    assert reply.error
    assert "line 1, col 8: unknown function 'emaa'" in reply.text and "did you mean 'ema'" in reply.text
    assert "fast = emaa(close, 3)\n         ^" in reply.text
    assert await _models(console) == []


async def test_run_refuses_bad_inputs_and_unknown_models(console):
    await console.handle("/model save m\n" + EMA_CROSS)
    unknown_input = await console.handle("/run m BBCA fsat=3")
    assert unknown_input.error and "no input 'fsat'" in unknown_input.text and "did you mean 'fast'" in unknown_input.text
    not_number = await console.handle("/run m BBCA fast=abc")
    assert not_number.error and "fast needs a number" in not_number.text
    missing = await console.handle("/run nope BBCA")
    assert missing.error and "you have no model 'nope'" in missing.text


async def test_missing_script_explains_how_to_send_one(console):
    reply = await console.handle("/model save lonely")
    assert reply.error and "no script given" in reply.text and "/model save" in reply.text


async def test_indicator_model_plots_without_trades(console):
    await console.handle("/model save bands\nplot(sma(close, 20), \"SMA 20\")\nplot(bbands(close, 20, 2).upper, \"upper\")")
    run = await console.handle("/run bands BBCA 1d 6mo")
    assert not run.error, run.text
    assert "Indicator model: 2 plot(s), no trades." in run.text
    assert "SMA 20:" in run.text and len(run.images) == 1


async def test_strategy_rules_and_simulation(console):
    created = await console.handle("/strategy new dip technical oversold dips")
    assert created.text.startswith("Created Technical strategy 'dip'")
    added = await console.handle("/rule add dip buy rsi(close, 14) < 40; sell: rsi(close, 14) > 60\nsell close > sma(close, 50) * 1.1")
    assert not added.error, added.text
    assert "Added 3 rule(s)" in added.text
    async with console.core.db.session() as session:
        rules = list(await session.scalars(select(Rule).order_by(Rule.id)))
        strategy = await session.scalar(select(Strategy))
    assert [(r.action, r.condition) for r in rules] == [
        ("buy", "rsi(close, 14) < 40"), ("sell", "rsi(close, 14) > 60"), ("sell", "close > sma(close, 50) * 1.1"),
    ]
    assert strategy.description == "oversold dips"

    result = await console.handle("/simulate dip BBCA 1d 2y")
    assert not result.error, result.text
    assert "Buy when all of: rsi(close, 14) < 40" in result.text
    assert "Sell when any of: rsi(close, 14) > 60; close > sma(close, 50) * 1.1" in result.text
    assert "Trades" in result.text and len(result.images) == 1

    removed = await console.handle("/rule rm dip 3")
    assert "Removed 1 rule(s)" in removed.text and "3." not in removed.text.split("Remaining:")[1]
    bad_rule = await console.handle("/rule add dip buy rsi(close, 14) <")
    assert bad_rule.error and "line 1" in bad_rule.text
    no_action = await console.handle("/rule add dip rsi(close, 14) < 30")
    assert no_action.error and "starts with buy or sell" in no_action.text


async def test_fundamental_screen_and_bandarmology_note(console):
    await console.handle("/strategy new value fundamental")
    added = await console.handle("/rule add value pe < 15; roe > 15%")
    assert "screen roe > 15%" in added.text
    passes = await console.handle("/simulate value BBRI")
    assert "PASSES" in passes.text and "✓ pe < 15 (now 10.80)" in passes.text and "19.00 %" in passes.text
    fails = await console.handle("/simulate value BBCA")
    assert "FAILS" in fails.text and "✗ pe < 15 (now 22.40)" in fails.text
    typo = await console.handle("/rule add value pbvv < 1")
    assert typo.error and "did you mean 'pbv'" in typo.text

    await console.handle("/strategy new flow bandarmology")
    await console.handle("/rule add flow net_value > 0; top3_ratio >= 1.5")
    screen = await console.handle("/simulate flow BBCA")  # the shipped synthetic sample, latest day
    assert not screen.error, screen.text
    assert "broker summary 20 Nov 2026" in screen.text and "Big Acc" in screen.text and "PASSES" in screen.text
    assert "✓ net_value > 0 (now 77.15B)" in screen.text and "✓ top3_ratio >= 1.5 (now 1.96)" in screen.text
    assert "SAMPLE DATA" in screen.text
    await console.handle("/rule add flow foreign_net < 0")
    week = await console.handle("/simulate flow BBCA 5d")
    assert "16 Nov – 20 Nov 2026" in week.text and "FAILS" in week.text
    assert "✗ foreign_net < 0 (now 289.56B)" in week.text
    none = await console.handle("/simulate flow TLKM")
    assert none.error and "/bandar import TLKM" in none.text


class RecordingNotifier:
    platform = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        self.sent.append((target, notice))
        return True


async def _in_group(console, who: str, name: str) -> Context:
    actor = await actor_for(
        console.core.db, platform="console", external_id=who, display_name=name, chat_id="-100",
        chat_title="Traders", is_group=True,
    )  # fmt: skip
    return Context(core=console.core, actor=actor, transport="console")


async def test_share_in_a_group_and_copy_by_another_member(console):
    registry = console.registry
    alice = await _in_group(console, "alice", "Alice")
    bob = await _in_group(console, "bob", "Bob")
    await registry.dispatch(alice, "/model save ema_cross\n" + EMA_CROSS)

    card = await registry.dispatch(alice, "/share ema_cross BBCA 1d 1y")
    assert not card.error, card.text
    assert card.text.startswith("📊 Model ema_cross · BBCA 1d · 1y")
    assert "Return " in card.text and "Shared by Alice" in card.text
    assert len(card.images) == 1
    [[copy_button]] = card.buttons
    assert copy_button.public and copy_button.command.startswith("/copy ")
    share_id = int(copy_button.command.split()[1])

    copied = await registry.dispatch(bob, f"/copy {share_id}")
    assert not copied.error, copied.text
    async with console.core.db.session() as session:
        rows = list(await session.scalars(select(Model).order_by(Model.id)))
    assert [(r.user_id, r.label) for r in rows] == [(alice.actor.user_id, "ema_cross"), (bob.actor.user_id, "ema_cross")]
    assert rows[1].source == rows[0].source and rows[1].copied_from == share_id

    again = await registry.dispatch(bob, f"/copy {share_id}")
    assert again.error and "already have a model 'ema_cross'" in again.text
    renamed = await registry.dispatch(bob, f"/copy {share_id} my_ema")
    assert "Copied model 'my_ema'" in renamed.text

    # someone who never wrote in that group cannot copy from it
    outsider = await actor_for(console.core.db, platform="console", external_id="eve", display_name="Eve")
    refused = await registry.dispatch(Context(core=console.core, actor=outsider), f"/copy {share_id}")
    assert refused.error and "group you are not in" in refused.text


async def test_share_from_private_chat_posts_into_a_chosen_group(console):
    notifier = RecordingNotifier()
    console.core.notifiers["console"] = notifier
    registry = console.registry
    alice_group = await _in_group(console, "alice", "Alice")
    alice = Context(core=console.core, actor=await actor_for(console.core.db, platform="console",
                                                             external_id="alice", display_name="Alice"))  # fmt: skip
    await registry.dispatch(alice, "/strategy new dip")
    await registry.dispatch(alice, "/rule add dip buy rsi(close, 14) < 40; sell rsi(close, 14) > 60")

    choose = await registry.dispatch(alice, "/share dip BBCA 1d 1y")
    [[group_button]] = choose.buttons
    assert group_button.label == "Traders" and group_button.command.endswith(" to=" + group_button.command.split("to=")[1])
    done = await registry.dispatch(alice, group_button.command)
    assert not done.error, done.text
    assert done.text == "Shared 'dip' on BBCA into Traders."
    [(target, notice)] = notifier.sent
    assert target == ChatTarget("console", "-100")
    assert notice.text.startswith("📊 Strategy dip · BBCA 1d · 1y") and notice.public
    assert len(notice.images) == 1 and notice.commands[0][1].startswith("/copy ")
    async with console.core.db.session() as session:
        [share] = list(await session.scalars(select(Share)))
    assert share.kind == "strategy" and share.payload["rules"][0] == {"action": "buy", "condition": "rsi(close, 14) < 40"}

    bob = await _in_group(console, "bob", "Bob")
    copied = await registry.dispatch(bob, f"/copy {share.id}")
    assert "Copied strategy 'dip' with 2 rule(s)" in copied.text
    assert alice_group.actor.user_id == alice.actor.user_id


@pytest.mark.parametrize("line", ["/share nothing BBCA", "/copy 999", "/copy abc"])
async def test_sharing_errors_are_short_replies(console, line):
    reply = await console.handle(line)
    assert reply.error and "Traceback" not in reply.text


async def test_model_set_changes_description_overlay_and_saved_inputs(console):
    await console.handle("/model save m\n" + EMA_CROSS)
    shown = await console.handle('/model set m fast=8 overlay=false description="my cross"')
    assert not shown.error, shown.text
    assert "plots in their own panel" in shown.text and "my cross" in shown.text and "fast=8, slow=26" in shown.text
    [row] = await _models(console)
    assert (row.inputs, row.overlay, row.description) == ({"fast": 8}, False, "my cross")
    run = await console.handle("/run m BBCA 1d 1y")
    assert "Inputs: fast=8, slow=26" in run.text  # saved inputs apply to every run
    bad = await console.handle("/model set m overlay=maybe")
    assert bad.error and "overlay is true or false" in bad.text
    typo = await console.handle("/model set m fsat=3")
    assert typo.error and "did you mean 'fast'" in typo.text


async def test_dictionary_lists_script_builtins_and_fundamental_metrics(console):
    script = await console.handle("/dict script")
    assert "crossover: a was <= b on the previous bar and is > b now (crossover(a, b))" in script.text
    assert "stop_loss:" in script.text
    assert script.text.endswith("The whole language, with precedence, limits and examples: docs/script.md in the "
                                "Stoxlify repository")
    one = await console.handle("/dict script nz")
    assert one.text.startswith("nz: x with missing values") and "docs/script.md" in one.text
    assert "docs/script.md" not in (await console.handle("/dict range")).text
    metrics = await console.handle("/dict fundamental")
    assert "roe: return on equity (write it in percent: 15%)" in metrics.text


async def test_non_finite_inputs_are_refused_and_not_stored(console):
    await console.handle("/model save m\n" + EMA_CROSS)
    for bad in ("nan", "inf", "-inf", "1e400"):
        reply = await console.handle(f"/model set m fast={bad}")
        assert reply.error and "input 'fast' must be a finite number" in reply.text, reply.text
        run = await console.handle(f"/run m BBCA fast={bad}")
        assert run.error and "input 'fast' must be a finite number" in run.text, run.text
    [row] = await _models(console)
    assert row.inputs == {}
    assert not (await console.handle("/run m BBCA")).error


async def test_run_passes_the_scripts_stop_and_target_to_the_backtest(console, monkeypatch):
    from bots.commands import models as model_commands

    seen = []
    real = model_commands.execute_script

    async def capture(*args, **kwargs):
        seen.append(await real(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(model_commands, "execute_script", capture)
    await console.handle("/model save ema_cross\n" + EMA_CROSS)
    run = await console.handle("/run ema_cross BBCA 1d 2y")
    assert not run.error, run.text
    [execution] = seen
    assert execution.config.stop_loss == 0.05 and execution.config.take_profit == 0.12


async def test_a_run_without_trades_says_n_a_without_a_percent_sign(console):
    await console.handle("/model save never\nbuy = close < 0\nsell = close > 0")
    run = await console.handle("/run never BBCA 1d 6mo")
    assert not run.error, run.text
    assert "Trades 0 · Win rate n/a" in run.text and "n/a %" not in run.text


@pytest.mark.parametrize("to", ["to=²", "to=" + "9" * 5000, "to=99999999999"])
async def test_share_into_a_group_named_by_a_bad_number_is_a_short_reply(console, to):
    await _in_group(console, "alice", "Alice")
    alice = Context(core=console.core, actor=await actor_for(console.core.db, platform="console",
                                                             external_id="alice", display_name="Alice"))  # fmt: skip
    await console.registry.dispatch(alice, "/strategy new dip")
    reply = await console.registry.dispatch(alice, f"/share dip BBCA 1d 1y {to}")
    assert reply.error and ("does not name a group" in reply.text or "not one you can share into" in reply.text)
    assert len(reply.text) < 200
