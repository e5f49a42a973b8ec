#!/bin/bash
# TAP test for `make check`: every fuzz target's seed corpus goes through
# its gcc-built replay driver (tests/fuzz/replay_T), then, when clang with
# libFuzzer is installed, each target is built with the sanitizers and
# fuzzed for ${SANDRUN_FUZZ_SECONDS:-10} seconds (0 skips that part).
# Whatever cannot run prints a SKIP that says why. The long run is
# `make fuzz` (run-fuzzers.sh); both build targets the same way
# (fuzz-lib.sh).

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
# shellcheck source=tests/fuzz/fuzz-lib.sh
. "$top_srcdir/tests/fuzz/fuzz-lib.sh"

seconds=${SANDRUN_FUZZ_SECONDS:-10}
n=0
# shellcheck disable=SC2086 # a list of words
set -- $FUZZ_TARGETS
echo "1..$(($# * 2))"

tap()
{
	n=$((n + 1))
	echo "$1 $n - $2"
}

# Part 1: replay each corpus through the normal build.
for t in $FUZZ_TARGETS; do
	replay=$top_builddir/tests/fuzz/replay_$t
	corpus=$top_srcdir/tests/fuzz/corpus/$t
	if missing=$(fuzz_missing_source "$t"); then
		tap ok "replay $t # SKIP $missing does not exist yet"
	elif [ ! -x "$replay" ]; then
		tap ok "replay $t # SKIP tests/fuzz/replay_$t is not built"
	elif [ ! -d "$corpus" ]; then
		tap "not ok" "replay $t: no seed corpus in tests/fuzz/corpus/$t"
	elif out=$("$replay" "$corpus" 2>&1); then
		tap ok "replay $t: $(echo "$out" | tail -n 1 | sed 's/^replay: //')"
	else
		tap "not ok" "replay $t"
		echo "$out" | tail -n 40 | sed 's/^/# /'
	fi
done

# Part 2: a short fuzzing run of each target.
if [ "$seconds" = 0 ]; then
	why="SANDRUN_FUZZ_SECONDS=0"
elif ! fuzz_clang_usable; then
	why="clang with libFuzzer not installed"
else
	why=
	builddir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-fuzzbuild.XXXXXX") || exit 1
	trap 'rm -rf "$builddir"' EXIT
fi
for t in $FUZZ_TARGETS; do
	if [ -n "$why" ]; then
		tap ok "fuzz $t # SKIP $why"
	elif missing=$(fuzz_missing_source "$t"); then
		tap ok "fuzz $t # SKIP $missing does not exist yet"
	elif ! log=$(fuzz_build "$t" "$builddir" 2>&1); then
		tap "not ok" "fuzz $t: build failed"
		echo "$log" | tail -n 40 | sed 's/^/# /'
	elif fuzz_run "$t" "$builddir/fuzz_$t" "$seconds" 2>"$builddir/fuzz_$t.err"; then
		tap ok "fuzz $t for ${seconds}s: $FUZZ_RUNS runs, no crash"
	else
		tap "not ok" "fuzz $t for ${seconds}s: see $FUZZ_WORKDIR"
		sed 's/^/# /' "$builddir/fuzz_$t.err"
	fi
done
exit 0
