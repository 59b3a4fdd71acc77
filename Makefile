# Two commands do everything on a fresh machine (see README.md):
#   make demo   -- set up .venv and run the main job (`groupsup demo`)
#   make test   -- set up .venv, lint, run the default test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PLUGIN_DIRS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP  := $(VENV)/.stamp-installed

.PHONY: test test-slow demo lint bench setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]" $(foreach d,$(PLUGIN_DIRS),-e $(d))
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
test: lint
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

demo: $(STAMP)
	$(VENV)/bin/groupsup demo

bench: $(STAMP)
	$(PY) benchmarks/graph.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
