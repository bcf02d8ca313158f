"""CSV import: row-by-row validation with line numbers, and upserts per user on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from core.account.service import actor_for
from core.bandarmology.csvio import parse_activity
from core.bandarmology.models import BrokerActivity
from core.bandarmology.period import parse_period
from core.bandarmology.store import SampleProvider, StoredProvider, import_activity, remove_activity
from core.bandarmology.types import Verdict
from core.errors import Invalid, NotFound

GOOD = """date,broker,investor,buy_lot,buy_value,sell_lot,sell_value
2024-06-03,AK,F,10000,9500000000,2000,1900000000
2024-06-03,YP,D,2000,1900000000,10000,9500000000
2024-06-04,AK,F,3000,2850000000,0,0
2024-06-04,CC,,0,0,3000,2850000000
"""


def test_parse_good_rows() -> None:
    rows = parse_activity(GOOD)
    assert [(r.line, r.day, r.broker, r.investor, r.buy_lot, r.sell_value) for r in rows] == [
        (2, date(2024, 6, 3), "AK", "F", 10_000, 1.9e9),
        (3, date(2024, 6, 3), "YP", "D", 2_000, 9.5e9),
        (4, date(2024, 6, 4), "AK", "F", 3_000, 0.0),
        (5, date(2024, 6, 4), "CC", "", 0, 2.85e9),
    ]


def test_semicolons_comments_any_order_and_bytes() -> None:
    text = "# my export\nSell_Value;Sell_Lot;Buy_Value;Buy_Lot;Broker;Date\n\n1900;2;0;0;yp;2024-06-03\n"
    [row] = parse_activity(("\ufeff" + text).encode())
    assert (row.line, row.broker, row.investor, row.sell_lot, row.buy_lot) == (4, "YP", "", 2, 0)


def test_errors_name_every_bad_line() -> None:
    text = (
        "date,broker,investor,buy_lot,buy_value,sell_lot,sell_value\n"
        "2024-06-03,AK,F,10000,9500000000,2000,1900000000\n"
        "2024-06-31,AK,F,1,950000,0,0\n"  # line 3: no such day
        "2024-06-04,A!,F,1,950000,0,0\n"  # line 4: broker
        "2024-06-04,YP,X,1,950000,0,0\n"  # line 5: investor
        "2024-06-04,YP,D,1.5,950000,0,0\n"  # line 6: fractional lots
        "2024-06-04,CC,D,1,abc,0,0\n"  # line 7: value
        "2024-06-04,CC,F,1,0,0,0\n"  # line 8: lots without value
        "2024-06-04,PD,D,1,950000,0\n"  # line 9: a value short
        "2024-06-03,AK,F,1,950000,0,0\n"  # line 10: repeats line 2
        "2024-06-04,XL,D,0,0,0,0\n"  # line 11: nothing traded
    )
    with pytest.raises(Invalid) as caught:
        parse_activity(text)
    message = caught.value.message
    assert message.startswith("9 bad rows, nothing imported:")
    for expected in (
        "line 3: date '2024-06-31' is not YYYY-MM-DD",
        "line 4: broker 'A!' is not a broker code",
        "line 5: investor 'X' is not F, D or empty",
        "line 6: buy_lot '1.5' is not a whole number",
        "line 7: buy_value 'abc' is not a number",
        "line 8: buy_lot 1 with buy_value 0",
        "line 9: 6 values, the header has 7",
    ):
        assert expected in message
    assert "... and 1 more" in message  # at most 8 listed
    assert "date,broker,investor" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the CSV is empty"),
        ("date,broker,buy_lot,buy_value,sell_lot\n", "line 1: missing column sell_value in the header"),
        ("date,broker,price,buy_lot,buy_value,sell_lot,sell_value\n", "line 1: unknown column 'price'"),
        ("date,broker,buy_lot,buy_value,sell_lot,sell_value\n", "a header but no rows"),
    ],
)
def test_header_problems(text: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_activity(text)


def test_not_utf8() -> None:
    with pytest.raises(Invalid, match="not UTF-8"):
        parse_activity(b"date,broker\xff\xfe")


async def _users(db):
    alice = await actor_for(db, platform="console", external_id="alice", display_name="Alice")
    bob = await actor_for(db, platform="console", external_id="bob", display_name="Bob")
    return alice, bob


async def test_import_upserts_per_user(db) -> None:
    alice, bob = await _users(db)
    first = await import_activity(db, alice, GOOD, "bbca.jk")
    assert (first.rows, first.inserted, first.updated, first.tickers) == (4, 4, 0, ("BBCA",))
    assert (first.first, first.last, first.days) == (date(2024, 6, 3), date(2024, 6, 4), 2)

    corrected = (
        GOOD.splitlines()[0] + "\n2024-06-04,CC,,0,0,4000,3800000000\n2024-06-05,CC,,100,95000000,0,0\n"
    )
    again = await import_activity(db, alice, corrected, "BBCA")
    assert (again.rows, again.inserted, again.updated) == (2, 1, 1)
    await import_activity(db, bob, GOOD, "BBCA")

    async with db.session() as session:
        mine = await session.scalar(select(func.count()).where(BrokerActivity.user_id == alice.user_id))
        cc = await session.scalar(
            select(BrokerActivity).where(
                BrokerActivity.user_id == alice.user_id, BrokerActivity.broker == "CC",
                BrokerActivity.day == date(2024, 6, 4),
            )
        )  # fmt: skip
    assert mine == 5
    assert (cc.sell_lot, cc.sell_value, cc.investor) == (4000, 3.8e9, "")

    summary = await StoredProvider(db, alice).summary("BBCA", parse_period("2024-06-03"), datetime.now(UTC))
    assert [p.code for p in summary.buyers] == ["AK"] and [p.code for p in summary.sellers] == ["YP"]
    assert summary.top_buy_value == summary.top_sell_value == pytest.approx(7.6e9)
    assert summary.verdict is Verdict.NEUTRAL and summary.foreign_net == pytest.approx(7.6e9)
    assert summary.provider == "your imported data" and not summary.sample
    two_days = await StoredProvider(db, alice).summary("BBCA", parse_period("2d"), datetime.now(UTC))
    assert (two_days.start, two_days.end, two_days.days) == (date(2024, 6, 4), date(2024, 6, 5), 2)

    assert await remove_activity(db, alice, "BBCA") == 5
    assert not await StoredProvider(db, alice).has("BBCA")
    assert await StoredProvider(db, bob).has("BBCA")


async def test_import_needs_a_ticker_and_is_all_or_nothing(db) -> None:
    alice, _ = await _users(db)
    with pytest.raises(Invalid, match="which ticker"):
        await import_activity(db, alice, GOOD)
    with pytest.raises(Invalid, match="line 3"):
        await import_activity(db, alice, GOOD.replace("2024-06-03,YP", "2024-06-3x,YP"), "BBCA")
    assert not await StoredProvider(db, alice).has("BBCA")
    several = (
        "ticker,"
        + GOOD.splitlines()[0]
        + "\nTLKM,2024-06-03,AK,F,1,400000,0,0\nBBCA.JK,2024-06-03,AK,F,1,950000,0,0\n"
    )
    result = await import_activity(db, alice, several)
    assert result.tickers == ("BBCA", "TLKM")
    with pytest.raises(NotFound, match="no broker data for BBCA on 2024-06-04"):
        await StoredProvider(db, alice).summary("BBCA", parse_period("2024-06-04"), datetime.now(UTC))


async def test_the_shipped_sample_is_labelled() -> None:
    provider = SampleProvider()
    assert provider.has("BBCA") and provider.has("bbca.jk") and not provider.has("TLKM")
    summary = await provider.summary("BBCA", parse_period(None), datetime.now(UTC))
    assert summary.sample and "synthetic" in summary.provider
    assert summary.start == summary.end == date(2026, 11, 20)
    assert summary.verdict is Verdict.BIG_ACC and summary.foreign_net is not None


def test_each_line_is_split_once(monkeypatch):
    from core.bandarmology import csvio

    calls = []
    real = csvio._cells

    def counting(number, line, delimiter):
        calls.append(line)
        return real(number, line, delimiter)

    monkeypatch.setattr(csvio, "_cells", counting)
    rows = parse_activity("date,broker,investor,buy_lot,buy_value,sell_lot,sell_value\n"
                          "2024-06-03,YP,D,10,1000,5,500\n2024-06-03,CC,F,1,100,2,200\n")
    assert [r.broker for r in rows] == ["YP", "CC"] and len(calls) == 3
    with pytest.raises(Exception, match="line 2: 3 values, the header has 7"):
        parse_activity("date,broker,investor,buy_lot,buy_value,sell_lot,sell_value\n2024-06-03,YP,D\n")


class _Pickling:
    """The compute plane as the pool and the queue see it: each task crosses as a pickle, and is
    recorded with whose share it ran on."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, int | None, str]] = []

    async def run(self, fn, *args, task):
        import pickle

        fn, args = pickle.loads(pickle.dumps((fn, args)))
        self.tasks.append((getattr(fn, "func", fn).__name__, task.user_id, task.label))
        return fn(*args)


async def test_imports_and_summaries_are_computed_on_the_compute_plane_on_the_users_share(db) -> None:
    from core.bandarmology.service import BandarService
    from core.config import Settings

    alice, _ = await _users(db)
    compute = _Pickling()
    service = BandarService(Settings(_env_file=None), db, compute=compute)  # type: ignore[arg-type]
    result = await service.import_csv(alice, GOOD, "BBCA")
    summary = await service.summary(alice, "BBCA", "2024-06-03")
    assert result.rows == 4 and [p.code for p in summary.buyers] == ["AK"]
    assert compute.tasks == [("parse_activity", alice.user_id, "the import"),
                             ("summarize_flows", alice.user_id, "the broker summary")]  # fmt: skip


HEADER = "date,broker,investor,buy_lot,buy_value,sell_lot,sell_value\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("9999-12-31,AK,F,1,950000,0,0", "line 2: date 9999-12-31 is after 2024-06-11"),
        ("2024-06-12,AK,F,1,950000,0,0", "line 2: date 2024-06-12 is after 2024-06-11"),
        ("0001-01-01,AK,F,1,950000,0,0", "line 2: date 0001-01-01 is before 1990-01-01"),
        ("1989-12-29,AK,F,1,950000,0,0", "line 2: date 1989-12-29 is before 1990-01-01"),
    ],
)
def test_dates_outside_a_trading_history_are_refused_naming_the_row(row: str, expected: str) -> None:
    """A typo such as 9999-12-31 would be the latest day and pull every default window to it."""
    with pytest.raises(Invalid) as caught:
        parse_activity(HEADER + row + "\n", today=date(2024, 6, 10))
    assert expected in caught.value.message


def test_the_newest_and_oldest_allowed_days_import() -> None:
    text = HEADER + "2024-06-11,AK,F,1,950000,0,0\n1990-01-01,AK,F,1,950000,0,0\n"
    assert [r.day for r in parse_activity(text, today=date(2024, 6, 10))] == [date(2024, 6, 11), date(1990, 1, 1)]


def test_a_field_over_the_csv_limit_names_its_line() -> None:
    text = HEADER + "2024-06-03,AK,F,1,950000,0,0\n" + '2024-06-03,"' + "Y" * 200_000 + '",F,1,950000,0,0\n'
    with pytest.raises(Invalid) as caught:
        parse_activity(text)
    assert "line 3: a value is over 131,072 characters" in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ("²,950000,0,0", "buy_lot '²' is not a whole number of lots"),
        ("٣,950000,0,0", "buy_lot '٣' is not a whole number of lots"),
        ("9" * 5000 + ",950000,0,0", "buy_lot is too large"),
        ("99999999999999999999,950000,0,0", "buy_lot is too large"),
    ],
)
def test_lots_are_ascii_digits_of_a_sane_size(cells: str, expected: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_activity(HEADER + "2024-06-03,AK,F," + cells + "\n")
    assert expected in caught.value.message
    assert len(caught.value.message) < 300


def test_long_cells_are_quoted_as_an_excerpt() -> None:
    with pytest.raises(Invalid) as caught:
        parse_activity(HEADER + "2024-06-03," + "Z" * 5000 + ",F,1,950000,0,0\n")
    assert "broker 'ZZZ" in caught.value.message and "Z" * 41 not in caught.value.message


async def test_future_rows_stored_before_dates_were_bounded_do_not_pull_the_default_window(db) -> None:
    alice, _ = await _users(db)
    await import_activity(db, alice, GOOD, "BBCA")
    async with db.session() as session:  # as an import before the bound could have stored it
        session.add(BrokerActivity(user_id=alice.user_id, ticker="BBCA", day=date(9999, 12, 31), broker="ZZ",
                                   investor="", buy_lot=1, buy_value=1.0, sell_lot=0, sell_value=0.0))  # fmt: skip
    latest = await StoredProvider(db, alice).summary("BBCA", parse_period(None), datetime.now(UTC))
    assert latest.start == latest.end == date(2024, 6, 4)
    week = await StoredProvider(db, alice).summary("BBCA", parse_period("1w"), datetime.now(UTC))
    assert week.end == date(2024, 6, 4) and "ZZ" not in [p.code for p in week.buyers]
