# `make run` and `make test` each build .venv when it is missing (or older than the
# dependency files), then run. Only Python 3.11 and make are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean chromium

# 1. torch first, by exact version: the machine's local CPU wheel (a looser spec pulls CUDA).
# 2. the project with the tested versions of everything else.
# 3. Safety-Gymnasium and gymnasium-robotics without their own pins (gymnasium 0.28.1,
#    mujoco 2.3.3, pygame 2.1.0, numpy<1.24), which cannot install on Python 3.11; their real
#    runtime needs come with the [safety] extra (STACK.md, trap 1).
$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[safety,dev,ray,media]"
	$(BIN)/pip install --quiet --no-deps -c constraints.txt safety-gymnasium gymnasium-robotics
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/testbed run scenarios/quickstart.yaml

test: $(STAMP) chromium
	$(BIN)/python -m pytest

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
	rm -rf $(VENV) .pytest_cache runs
