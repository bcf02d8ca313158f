"""Every setting is documented in .env.example, and nothing there is unknown to the code."""

from __future__ import annotations

import re
from pathlib import Path

from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_exactly_the_settings():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from .env.example"
    assert documented - fields == set(), "names in .env.example the code does not read"


def test_env_example_loads_as_it_is():
    settings = Settings(_env_file=str(ROOT / ".env.example"))
    assert settings.market_offline and settings.free_max_position_value is None
