#!/usr/bin/env bash
# Install groupsup as its users do and run it (issue 31): build the sdist and wheel of groupsup
# and of every plugin (tools/build_dists.py, which also checks the wheels hold no tests and
# every resource they read), install the wheels into a fresh venv (no editable install, with
# constraints.txt, from pip's configured index), then, from a folder outside the repository,
# run `groupsup --version` (every plugin listed, none failing), `groupsup explore --help` and
# `groupsup demo --budget $BUDGET` (default 60: a smoke run whose numbers mean nothing).
# Fails at the first step that fails. `make install-check` runs it; KEEP=1 keeps the folder.
#   PYTHON   builds the distributions and creates the venv (default .venv/bin/python)
#   BUDGET   the demo's --budget in seconds (default 60)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
case $PYTHON in /*) ;; */*) PYTHON=$PWD/$PYTHON ;; esac  # the script changes folder later
BUDGET=${BUDGET:-60}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/groupsup-install.XXXXXX")
if [ -n "${KEEP:-}" ]; then echo "install check: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
# the installed copy must be the only one: nothing of the repository on the path
unset PYTHONPATH GROUPSUP_PLUGINS GROUPSUP_DISABLE_PLUGINS
export GROUPSUP_STRICT_PLUGINS=1
started=$SECONDS
step() { echo "install check: $1 ($((SECONDS - started)) s)"; }

step "building sdists and wheels into $WORK/dist"
"$PYTHON" "$ROOT/tools/build_dists.py" --out "$WORK/dist"

step "installing the wheels into a fresh venv $WORK/venv"
"$PYTHON" -m venv "$WORK/venv"
VENV_PY=$WORK/venv/bin/python
"$VENV_PY" -m pip install --quiet -c "$ROOT/constraints.txt" "$WORK"/dist/*.whl

mkdir "$WORK/use" && cd "$WORK/use"
step "checking that groupsup and its plugins import from the venv"
"$VENV_PY" - "$WORK/venv" <<'EOF'
import sys
from importlib import metadata
from pathlib import Path

venv = Path(sys.argv[1]).resolve()
for ep in metadata.entry_points(group="groupsup"):
    module = ep.load()
    if venv not in Path(module.__file__).resolve().parents:
        sys.exit(f"plugin {ep.name} imports from {module.__file__}, not from {venv}")
    if ep.dist.read_text("direct_url.json") and '"editable": true' in ep.dist.read_text(
            "direct_url.json"):
        sys.exit(f"{ep.dist.name} is an editable install")
import groupsup

if venv not in Path(groupsup.__file__).resolve().parents:
    sys.exit(f"groupsup imports from {groupsup.__file__}, not from {venv}")
EOF

step "groupsup --version"
"$WORK/venv/bin/groupsup" --version | tee "$WORK/version.txt"
for project in "$ROOT"/plugins/*/pyproject.toml; do
  name=$(basename "$(dirname "$project")")
  grep -q "^  $name " "$WORK/version.txt" \
    || { echo "install check: groupsup --version does not list $name" >&2; exit 1; }
done

step "groupsup explore --help"
"$WORK/venv/bin/groupsup" explore --help >/dev/null

step "groupsup demo --budget $BUDGET"
"$WORK/venv/bin/groupsup" demo --budget "$BUDGET" --out "$WORK/use/demo"
test -s "$WORK/use/demo/report.html"

step "passed"
