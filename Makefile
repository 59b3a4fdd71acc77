# Two commands do everything on a fresh machine (see README.md):
#   make demo   -- set up .venv and run the main job (`groupsup demo`)
#   make test   -- set up .venv, lint, run the default test suite, then the install check
#   make reproduce -- the paper's Fonts experiments at CPU scale (51 min on 2 cores, 2026-12-07)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PLUGIN_DIRS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
STAMP  := $(VENV)/.stamp-installed

.PHONY: test install-check test-slow demo reproduce lint bench setup clean fonts browser docs

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt $(wildcard plugins/*/pyproject.toml)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]" $(foreach d,$(PLUGIN_DIRS),-e $(d))
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# In CI (CI=true, as root, with apt) install the Debian font packages that give the Fonts
# plugin ~100 faces like the paper's set; the suite also passes with matplotlib's fonts alone.
fonts:
	@if [ -n "$$CI" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian fonts (plugins/groupsup-fonts/debian-fonts.txt)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $$(cat plugins/groupsup-fonts/debian-fonts.txt) >/dev/null) \
	  || echo "warning: Debian fonts not installed; using matplotlib's fonts"; fi

# In CI (CI=true, as root, with apt) install Debian's chromium for the explorer's browser tests
# (tests/test_explore.py drives it with Playwright; no browser download). Elsewhere those tests
# skip, saying why. In CI a failed install fails the build: the browser tests must run there.
browser:
	@if [ -n "$$CI" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian chromium (browser tests of groupsup explore)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium >/dev/null; fi

# pytest exits 5 when it collected nothing: that is a broken suite, not a pass. When the suite
# passes, the install check follows (~2 min on 2 cores): wheels installed in a fresh venv.
test: lint fonts browser
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	PYTHON=$(PY) tools/check_install.sh

# groupsup and every plugin built (sdist, then wheel from it), installed in a fresh venv without
# -e, and run from outside the repository: --version, explore --help, demo --budget 60
install-check: $(STAMP)
	PYTHON=$(PY) tools/check_install.sh

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# DEMO_FLAGS passes flags through: make demo DEMO_FLAGS="--set seed=2 --out runs/demo-seed2"
DEMO_FLAGS ?=
demo: $(STAMP)
	$(VENV)/bin/groupsup demo $(DEMO_FLAGS)

# writes runs/reproduce/report.md and report.html; REPRODUCE_FLAGS=--overwrite replaces them
REPRODUCE_FLAGS ?=
reproduce: $(STAMP)
	$(VENV)/bin/groupsup reproduce fonts --out runs/reproduce $(REPRODUCE_FLAGS)

# the documentation site (mkdocs.yml) into site/; --strict: any broken link or reference fails
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) benchmarks/graph.py
	$(PY) benchmarks/render.py
	$(PY) benchmarks/step.py
	$(PY) benchmarks/train.py
	$(PY) benchmarks/explore.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
