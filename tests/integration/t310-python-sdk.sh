#!/usr/bin/env bash
# The Python SDK (clients/python) against a whole stack with a signing
# runner: its pytest files (clients/python/tests: the Cloud Sandbox guide's
# example verbatim but the URL, the FAQ's requests example, jobs, the SSE
# stream live and resumed, errors, retry, signed results, sessions, and the
# MCP stdio forwarder against a local fake server) run with Debian's
# /usr/bin/python3 -m pytest, each pytest test one TAP line here. Then the
# package installs offline into a venv (pip --no-build-isolation) and its
# `sandrun` entry point runs.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq openssl tar
PY=/usr/bin/python3
[ -x "$PY" ] || skip_all "$PY is not installed"
"$PY" -c 'import pytest' 2>/dev/null || skip_all "python3-pytest is not installed"
keydir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
"$top_builddir/sandrun-runner" --generate-key "$keydir/worker.pem" >/dev/null || {
	echo "Bail out! sandrun-runner --generate-key failed"; exit 1; }
stack_start --set "worker_key=$keydir/worker.pem"
trap 'stack_stop; rm -rf "$keydir"' EXIT
cd "$WORK"

PKG=$top_srcdir/clients/python
export PYTHONPATH=$PKG PYTHONDONTWRITEBYTECODE=1 SANDRUN_URL SANDRUN_CACERT
"$PY" -m pytest -p no:cacheprovider -q -rfEs --junitxml="$STACK_DIR/pytest.xml" \
	--rootdir="$PKG" "$PKG/tests" >"$STACK_DIR/pytest.out" 2>&1
pytest_rc=$?
ran=0
while IFS=$'\t' read -r st name msg; do
	ran=$((ran + 1))
	case $st in
	ok) ok 0 "pytest $name" ;;
	skip) skip "pytest $name" "$msg" ;;
	*) ok 1 "pytest $name"; echo "#   $msg" ;;
	esac
done < <("$PY" "$top_srcdir/tests/integration/pytest-tap.py" "$STACK_DIR/pytest.xml")
ok "$([ "$ran" -ge 30 ] && { [ "$pytest_rc" -eq 0 ] || [ "$tap_failed" -gt 0 ]; }; echo $?)" \
	"pytest ran $ran tests (exit status $pytest_rc)" || sed 's/^/#   /' "$STACK_DIR/pytest.out" | tail -n 40

# --- installing: a venv (Debian's setuptools and wheel, nothing fetched), the sandrun command
cp -r "$PKG" "$WORK/src"
rm -rf "$WORK/src/build" "$WORK/src"/*.egg-info
if "$PY" -c 'import ensurepip, wheel, setuptools' 2>/dev/null; then
	"$PY" -m venv --system-site-packages "$WORK/venv" &&
		"$WORK/venv/bin/pip" install -q --no-index --no-build-isolation "$WORK/src" >"$WORK/pip.out" 2>&1
	ok $? "pip install --no-index --no-build-isolation into a venv works offline" || sed 's/^/#   /' "$WORK/pip.out"
	like "$(env -u PYTHONPATH "$WORK/venv/bin/sandrun" --version 2>&1)" '^sandrun [0-9]' "... and installs the sandrun command"
	out=$(cd / && env -u PYTHONPATH "$WORK/venv/bin/python" -c 'from cloud_sandbox import Sandbox
with Sandbox.create(base_url="'"$SANDRUN_URL"'", user_id="x") as s: print(s.run_code("print(6*7)").stdout, end="")' 2>&1)
	is "$out" 42 "... and the installed cloud_sandbox module runs a session"
else
	skip "pip install into a venv" "python3-venv, python3-setuptools or python3-wheel is not installed"
fi
done_testing
