"""Files in a reply reach Discord as attachments shown as downloads (a card's file component), never
as pictures in its gallery."""

from __future__ import annotations

import csv
import io

SCRIPT = "fast = ema(close, 5)\nslow = ema(close, 20)\nbuy = crossover(fast, slow)\nsell = crossunder(fast, slow)"


async def test_run_export_attaches_the_csv_beside_the_chart(bot, dk):
    from core.account.service import actor_for
    from core.model.service import ModelRequest, save_model

    me = await actor_for(bot.client.runtime.core.db, platform="discord", external_id=str(dk.OWNER_ID))
    await save_model(bot.client.runtime.core.db, me, ModelRequest("cross", SCRIPT))
    calls = await bot.slash("run", name="cross", ticker="BBCA", interval="1d", range="1y", inputs="export")
    [answer] = [c for c in calls if c.files]
    names = [name for name, _ in answer.files]
    [png] = [n for n in names if n.endswith(".png")]
    [csv_name] = [n for n in names if n.endswith(".csv")]
    assert "cross_BBCA_1d" in csv_name
    assert answer.flags & (1 << 15) and not answer.embeds  # a card: chart, figures and the export together
    shown = [item["media"]["url"] for c in answer.walk() if c["type"] == 12 for item in c["items"]]
    downloads = [c["file"]["url"] for c in answer.walk() if c["type"] == 13]
    assert shown == [f"attachment://{png}"] and downloads == [f"attachment://{csv_name}"]
    dk.check_card_limits(answer.json)
    [text] = [c["content"] for c in answer.walk() if c["type"] == 10]  # the key figures, in the same card
    assert text.startswith("### ") and "Return " in text and "Max drawdown " in text and "Sharpe " in text
    data = dict(answer.files)[csv_name]
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows and rows[0]["side"] in ("long", "short") and rows[0]["entry_time"].endswith("+07:00")
