"""README's command table names every chat command the registry declares, and no command it lacks:
a command added (or renamed) without its row fails here, before a reader looks for it in vain."""

from __future__ import annotations

import re
from pathlib import Path

from bots.commands import load

README = Path(__file__).resolve().parents[1] / "README.md"


def command_table() -> str:
    """The rows of the table under ``## Chat commands``."""
    section = README.read_text(encoding="utf-8").split("\n## Chat commands", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| "))


def test_every_command_has_a_row_in_the_readme() -> None:
    table = command_table()
    names = {c.name for c in load()}
    missing = sorted(n for n in names if not re.search(rf"`/{n}\b", table))
    assert not missing, f"README's command table lacks: {missing}"
    # each row's first cell names commands; none of them may be one the bot does not have
    named = set(re.findall(r"`/([a-z_]+)", "\n".join(row.split("|")[1] for row in table.splitlines())))
    assert named <= names, f"README names commands the bot lacks: {sorted(named - names)}"
