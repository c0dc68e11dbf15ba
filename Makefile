# EM Gap Filler — the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := resources/sample_class.csv

.PHONY: setup run test lint bench app install-desktop uninstall-desktop clean

setup: $(STAMP)

# Rebuild the venv when the dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dask]"
	touch $(STAMP)

run: setup
	$(BIN)/emgui $(SAMPLE)

lint: setup
	$(BIN)/ruff check emgui tests benchmarks main.py
	$(BIN)/lint-imports

test: setup lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	@for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

app: setup
	bash packaging/build_app.sh

install-desktop: setup
	$(BIN)/emgui --install-desktop

uninstall-desktop: setup
	$(BIN)/emgui --uninstall-desktop

clean:
	rm -rf build dist .pytest_cache .ruff_cache
