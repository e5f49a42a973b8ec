#!/bin/bash
# The long fuzzing run behind `make fuzz`: builds every fuzz target with
# clang, libFuzzer and the sanitizers (fuzz-lib.sh, as `make check` does),
# fuzzes each for SECONDS (default 300) on a copy of its seed corpus, and
# reports what crashed. Exits 0 when nothing did, 1 otherwise (or when
# clang with libFuzzer is missing), 2 on a usage error.
#
# Usage: tests/fuzz/run-fuzzers.sh [SECONDS]
# A crash keeps its input and log in a temporary directory (printed), to be
# reproduced with the gcc-built replay driver: tests/fuzz/replay_T FILE.
# Once fixed, add the input to tests/fuzz/corpus/T/ so make check replays it.

seconds=${1:-300}
case $seconds in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac

# shellcheck source=tests/fuzz/fuzz-lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/fuzz/fuzz-lib.sh"

if ! fuzz_clang_usable; then
	echo "run-fuzzers: $FUZZ_CC cannot build libFuzzer targets; install clang and its" \
		"compiler-rt (Debian: clang libclang-rt-dev)" >&2
	exit 1
fi

builddir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-fuzzbuild.XXXXXX") || exit 1
trap 'rm -rf "$builddir"' EXIT

failed=
for t in $FUZZ_TARGETS; do
	if missing=$(fuzz_missing_source "$t"); then
		echo "run-fuzzers: $t: skipped, $missing does not exist yet"
		continue
	fi
	echo "run-fuzzers: $t: building"
	if ! fuzz_build "$t" "$builddir"; then
		echo "run-fuzzers: $t: BUILD FAILED"
		failed="$failed $t"
		continue
	fi
	echo "run-fuzzers: $t: fuzzing for ${seconds}s"
	if fuzz_run "$t" "$builddir/fuzz_$t" "$seconds"; then
		echo "run-fuzzers: $t: ok, $FUZZ_RUNS runs"
	else
		echo "run-fuzzers: $t: FAILED after $FUZZ_RUNS runs; inputs and log in $FUZZ_WORKDIR"
		failed="$failed $t"
	fi
done

if [ -n "$failed" ]; then
	echo "run-fuzzers: failed:$failed"
	exit 1
fi
echo "run-fuzzers: all targets ok"
