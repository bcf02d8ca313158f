"""The type checker over the checked surface (``[tool.mypy]`` in pyproject.toml: core, jobs, the bots and
the HTTP API), run as part of the suite so that ``make test`` (what CI runs) fails on a type error too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_is_clean() -> None:
    # The repository's own cache: a warm run takes seconds where a cold one takes about twenty.
    # mypy's cache writes are atomic (write then rename), so two pytest-xdist workers can share it.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"mypy found type errors:\n{done.stdout}{done.stderr}"
