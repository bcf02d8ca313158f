"""``DeployRequest`` and ``Action``: what a request is refused for, checked in one place.

The texts are the ones users read before requests existed (the chat's /deploy and the HTTP API
reach the same checks), so each assertion is on the whole message, not a fragment.
"""

from __future__ import annotations

import math

import pytest

from core.deployment.bars import Timing
from core.deployment.service import Action, DeployRequest
from core.errors import Invalid


def _refusal(**fields) -> str:
    with pytest.raises(Invalid) as refused:
        DeployRequest("ema", "BTCUSDT", **fields)
    return refused.value.message


def test_a_request_is_normalised_once_where_it_is_built():
    request = DeployRequest("ema", "BTCUSDT", "1H", credential="", timing="late", inputs={"fast": 5})
    assert (request.interval, request.timing, request.credential, request.inputs) == ("1h", Timing.LATE, None, {"fast": 5})
    assert DeployRequest("ema", "BTCUSDT", timing="on-time").timing is Timing.ON_TIME
    assert DeployRequest("ema", "BTCUSDT", timing="OnTime").timing == "OnTime"  # the API's spelling, as stored
    assert DeployRequest("ema", "BTCUSDT").timing is Timing.ON_TIME
    with pytest.raises(AttributeError):
        request.size = 0.5  # type: ignore[misc]  # frozen: what was checked is what runs


def test_unknown_timing_and_interval_are_refused():
    assert _refusal(timing="soon") == "timing is OnTime or Late, not 'soon'"
    assert _refusal(interval="7x") == "unknown interval '7x'"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"size": 1.5}, "the stake is a share of the balance above 0 % and at most 100 %, not 150 %"),
        ({"size": 0.0}, "the stake is a share of the balance above 0 % and at most 100 %, not 0 %"),
        ({"size": math.nan}, "the stake is a share of the balance above 0 % and at most 100 %, not nan %"),
        ({"size": 0.5, "stake_amount": 10.0},
         "give the stake either as a share of the balance (size=25%) or as an amount (size=500), not both"),
        ({"max_position_value": 0.0}, "the position cap must be above 0"),
        ({"max_position_value": -5.0}, "the position cap must be above 0"),
    ],
)  # fmt: skip
def test_bad_stakes_and_caps_are_refused(fields, message):
    assert _refusal(**fields) == message


def test_an_amounts_currency_checks_wait_for_the_instrument():
    # an amount's lower bound names the quote currency, and rupiah must be whole: both known only when
    # planning (check_stake), so the request itself accepts them
    assert DeployRequest("ema", "BBCA", stake_amount=1000.5).stake_amount == 1000.5
    assert DeployRequest("ema", "BTCUSDT", stake_amount=-1.0).stake_amount == -1.0


def test_status_actions():
    assert [Action.parse(a) for a in ("pause", "resume", "stop")] == [Action.PAUSE, Action.RESUME, Action.STOP]
    with pytest.raises(Invalid) as refused:
        Action.parse("restart")
    assert refused.value.message == "a deployment can be paused, resumed or stopped, not 'restart'"


def test_the_apis_status_names_map_to_actions():
    assert [Action.to_reach(s) for s in ("Paused", "NoPosition", "OpenPosition", "TaskCanceled")] == [
        Action.PAUSE, Action.RESUME, Action.RESUME, Action.STOP
    ]
    for status in ("UnknownStatus", "TaskPending", "TaskDone"):
        with pytest.raises(Invalid) as refused:
            Action.to_reach(status)
        assert refused.value.message == (
            f"a deployment can be set to Paused, NoPosition or OpenPosition (resumed) or TaskCanceled, not '{status}'"
        )
