# Two commands for a fresh machine:  make run  (start the bot)   make test  (the whole test suite)
PY ?= $(shell command -v python3.12 2>/dev/null || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run chat test lint bench mutate clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else "Python 3.12 is required (pandas-ta needs it); found " + sys.version.split()[0])'
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(VENV)/bin/stoxlify run

chat: $(STAMP)
	$(VENV)/bin/stoxlify chat

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2  # two processes (pytest-xdist): each has its own PostgreSQL database and Redis prefix

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy  # what it checks and how: [tool.mypy] in pyproject.toml

bench: $(STAMP)
	-$(VENV)/bin/python bench/market.py
	-$(VENV)/bin/python bench/backtest.py
	-$(VENV)/bin/python bench/optimize.py --quick
	-$(VENV)/bin/python bench/scheduler.py
	-$(VENV)/bin/python bench/scheduler.py --distinct-scripts --compute queue --workers 1,2
	-$(VENV)/bin/python bench/fanout.py --fast
	-$(VENV)/bin/python bench/responsiveness.py --quick
	-$(VENV)/bin/python bench/burst.py --quick
	-$(VENV)/bin/python bench/http_api.py --quick

# Mutation testing of the money and access paths (docs/mutation.md): which modules and tests is [tool.mutmut]
# in pyproject.toml; SQLite only, two workers. Prints killed/survived per module and each survivor's name.
# Everything takes hours on two cores: `make mutate MUTANTS="core.deployment.reconcile.*"` runs one module.
MUTANTS ?=
mutate: $(STAMP)
	$(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(VENV)/bin/python scripts/mutation_report.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache mutants
