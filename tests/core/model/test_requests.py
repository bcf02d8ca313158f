"""``ModelRequest`` and ``ScriptRun``: what a model request is refused for, checked where it is built.

The refusals are the texts users read before requests existed (``/model save`` and the HTTP API
reach the same checks), so each assertion is on the whole message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import Invalid
from core.model.execute import ScriptRun
from core.model.service import ModelRequest, ModelView


def _refusal(**fields) -> Invalid:
    with pytest.raises(Invalid) as refused:
        ModelRequest(**{"label": "cross", "source": "plot(close)", **fields})
    return refused.value


def test_a_model_request_is_normalised_once_where_it_is_built():
    request = ModelRequest("  Cross ", "plot(close)", inputs={"fast": 5})
    assert (request.label, request.inputs, request.description, request.overlay) == ("Cross", {"fast": 5}, None, None)


def test_a_bad_label_or_a_long_description_is_refused():
    assert _refusal(label="two words").message == "'two words' is not a valid model name"
    assert _refusal(label=" ").message == "a model name is needed"
    assert _refusal(description="x" * 501).message == "a description has at most 500 characters"
    assert ModelRequest("cross", "plot(close)", description="x" * 500).description == "x" * 500


def test_a_saved_models_run_keeps_its_script_and_puts_the_overrides_over_its_saved_inputs():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    model = ModelView(1, "cross", "", False, "plot(close)", {"fast": 5, "slow": 20}, {"fast": 12, "slow": 26},
                      frozenset(), at, at)  # fmt: skip
    run = ScriptRun.of_model(model, "BBCA", "1h", "3mo", {"slow": 30})
    assert (run.source, run.label, run.overlay, run.ticker, run.interval, run.range) == (
        "plot(close)", "cross", False, "BBCA", "1h", "3mo"
    )
    assert run.inputs == {"fast": 5, "slow": 30}
    assert ScriptRun.of_model(model, "BBCA").inputs == {"fast": 5, "slow": 20}


def test_a_strategy_request_is_checked_where_it_is_built():
    from core.strategy.rules import Analytic
    from core.strategy.service import StrategyRequest

    assert StrategyRequest(" dip ", "fundamental").label == "dip"
    assert StrategyRequest("dip", "FUNDAMENTAL").analytic is Analytic.FUNDAMENTAL
    assert StrategyRequest("dip").analytic is Analytic.TECHNICAL
    with pytest.raises(Invalid) as refused:
        StrategyRequest("dip", "astrology")
    assert (refused.value.message, refused.value.hint) == (
        "unknown analytic 'astrology'", "one of: Technical, Fundamental, Bandarmology"
    )
    with pytest.raises(Invalid) as refused:
        StrategyRequest("a b")
    assert refused.value.message == "'a b' is not a valid strategy name"
    with pytest.raises(Invalid) as refused:
        StrategyRequest("dip", description="x" * 501)
    assert refused.value.message == "a description has at most 500 characters"
