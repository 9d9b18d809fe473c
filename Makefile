# `make run` and `make test` each build the venv when it is missing (or older than the
# dependency files), then run. Only Python 3.11 and make are needed.
#
# Two tested dependency stacks (docs/STACK.md), chosen with STACK=legacy|modern:
#   legacy (default): constraints.txt in .venv: numpy 1.26, gymnasium 0.29, pettingzoo 1.24.3,
#                     supersuit 3.9.3 and Safety-Gymnasium, every feature;
#   modern:           constraints-modern.txt in .venv-modern: numpy 2, gymnasium 1.x,
#                     pettingzoo 1.27, mpe2, supersuit 3.11 (what `pip install .` resolves today).
PYTHON ?= python3
STACK ?= legacy
ifeq ($(STACK),legacy)
VENV := .venv
CONSTRAINTS := constraints.txt
else ifeq ($(STACK),modern)
VENV := .venv-modern
CONSTRAINTS := constraints-modern.txt
else
$(error STACK must be legacy or modern, got '$(STACK)')
endif
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean chromium

# 1. torch first, by exact version: the machine's local CPU wheel (a looser spec pulls CUDA).
# 2. the project with the tested versions of everything else.
# 3. Safety-Gymnasium and gymnasium-robotics without their own pins (gymnasium 0.28.1,
#    mujoco 2.3.3, pygame 2.1.0, numpy<1.24), which cannot install on Python 3.11; their real
#    runtime needs come with the [safety] extra (docs/STACK.md, trap 1).
# 4. gymnasium-robotics 1.2.2 without its gymnasium plugin entry point: gymnasium 0.29 loads it
#    on import and it imports pettingzoo, so a script's `import pettingzoo` (which imports
#    gymnasium) failed half-way. The robotics ids testbed uses (robotics/FetchReach) are
#    registered by importing gymnasium_robotics explicitly (trap 4).
$(STAMP): pyproject.toml setup.py $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[safety,dev,ray,media,llm]"
	$(BIN)/pip install --quiet --no-deps -c $(CONSTRAINTS) safety-gymnasium gymnasium-robotics
	rm -f $(VENV)/lib/python*/site-packages/gymnasium_robotics-*.dist-info/entry_points.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/testbed run scenarios/quickstart.yaml

# Two pytest workers (pytest-xdist), one test file per worker at a time (--dist loadfile: a
# file's module fixtures, e.g. its Ray cluster, are built once). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
test: $(STAMP) chromium
	$(BIN)/python -m pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

# The HTML report is tested in a real headless browser: Debian's chromium package, driven by
# playwright (pip). Installed once with apt-get (the machines' user is root); skipped when
# /usr/bin/chromium exists. Never `playwright install` (it downloads a browser build).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/env_speed.py

clean:
	rm -rf .venv .venv-modern .pytest_cache runs
