"""One "did you mean" for labels, script names and indicators; labels sized by MAX_LABEL."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.labels import MAX_LABEL, check_label, did_you_mean
from core.script import ScriptError, parse


def test_did_you_mean_keeps_each_callers_wording():
    assert did_you_mean("CROS", ["cross", "dip"]) == " — did you mean 'cross'?"  # labels ignore case
    assert did_you_mean("zzz", ["cross"]) == ""
    assert did_you_mean("Ema", ["ema", "EMA2"], case_sensitive=True) == " — did you mean 'ema'?"
    assert did_you_mean("emaa", ["ema"], rename=str.upper) == " — did you mean 'EMA'?"
    with pytest.raises(ScriptError, match="unknown function 'emaa' — did you mean 'ema'"):
        parse("x = emaa(close, 3)")
    from core.market.indicator_specs import parse_spec

    with pytest.raises(Invalid, match="unknown indicator 'rsii' — did you mean 'rsi'"):
        parse_spec("rsii")


def test_labels_are_sized_by_max_label():
    assert check_label("a" * MAX_LABEL) == "a" * MAX_LABEL
    with pytest.raises(Invalid) as caught:
        check_label("a" * (MAX_LABEL + 1))
    assert f"up to {MAX_LABEL} characters" in caught.value.hint
