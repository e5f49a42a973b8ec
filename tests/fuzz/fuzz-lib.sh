# shellcheck shell=bash
# Shared by tests/fuzz/replay.sh (make check) and tests/fuzz/run-fuzzers.sh
# (make fuzz): which fuzz targets there are, how each is built with clang
# and libFuzzer, and how one fuzzing run is judged. Source it from bash; it
# only defines functions and variables, and never exits.
#
# A target T is tests/fuzz/fuzz_T.c plus the sources it tests; its seeds are
# tests/fuzz/corpus/T/ and its optional dictionary tests/fuzz/T.dict.

# The targets, in the order they are built and run.
# shellcheck disable=SC2034 # used by the scripts that source this file
FUZZ_TARGETS="multipart manifest path upload outputs sandbox_spec session_proto session_path session_control session_request mcp pseudo_tar ws_parse pty_input pty_relay api_keys"

# The source tree: $top_srcdir under make, else two levels above this file.
fuzz_srcdir=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

FUZZ_CC=${FUZZ_CC:-clang}
# -O1 -g: fast enough to fuzz, still readable stacks. No recovery from UBSan:
# undefined behaviour must crash, or libFuzzer would not keep the input.
FUZZ_CFLAGS=${FUZZ_CFLAGS:-"-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"}

# fuzz_sources TARGET: the C files of TARGET, relative to the source tree.
fuzz_sources()
{
	case $1 in
	multipart) echo "tests/fuzz/fuzz_multipart.c common/multipart.c" ;;
	manifest)  echo "tests/fuzz/fuzz_manifest.c common/manifest.c common/path.c" ;;
	path)      echo "tests/fuzz/fuzz_path.c common/path.c" ;;
	upload)    echo "tests/fuzz/fuzz_upload.c fcgi/upload.c common/upload_entry.c common/upload_reader.c common/path.c common/util.c" ;;
	outputs)   echo "tests/fuzz/fuzz_outputs.c runner/outputs_parse.c common/path.c common/util.c" ;;
	sandbox_spec) echo "tests/fuzz/fuzz_sandbox_spec.c runner/sandbox_spec.c common/util.c" ;;
	session_proto) echo "tests/fuzz/fuzz_session_proto.c runner/session_proto.c" ;;
	session_path) echo "tests/fuzz/fuzz_session_path.c runner/session_path.c" ;;
	session_control) echo "tests/fuzz/fuzz_session_control.c runner/session_control.c runner/session_proto.c common/jobid.c" ;;
	session_request) echo "tests/fuzz/fuzz_session_request.c fcgi/session_body.c common/manifest.c common/path.c common/jobid.c common/util.c" ;;
	mcp)       echo "tests/fuzz/fuzz_mcp.c fcgi/mcp.c common/util.c" ;;
	pseudo_tar) echo "tests/fuzz/fuzz_pseudo_tar.c common/pseudo_tar.c" ;;
	ws_parse)  echo "tests/fuzz/fuzz_ws_parse.c ws/parse.c common/jobid.c common/util.c" ;;
	pty_input) echo "tests/fuzz/fuzz_pty_input.c runner/pty_proto.c" ;;
	pty_relay) echo "tests/fuzz/fuzz_pty_relay.c runner/pty_proto.c" ;;
	api_keys)  echo "tests/fuzz/fuzz_api_keys.c common/api_keys.c common/util.c" ;;
	*)         return 1 ;;
	esac
}

# fuzz_libs TARGET: what TARGET links with besides libFuzzer.
fuzz_libs()
{
	case $1 in
	manifest|session_proto|session_control|session_request|mcp|ws_parse|pty_input|pty_relay) pkg-config --cflags --libs jansson ;;
	upload)   pkg-config --cflags --libs jansson libarchive ;;
	api_keys) pkg-config --cflags --libs libcrypto ;;
	*)        echo "" ;;
	esac
}

# fuzz_missing_source TARGET: prints the first source of TARGET that does not
# exist (and succeeds), or fails when all are there.
fuzz_missing_source()
{
	local f
	for f in $(fuzz_sources "$1"); do
		if [ ! -f "$fuzz_srcdir/$f" ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# fuzz_clang_usable: succeeds when $FUZZ_CC can build and run a libFuzzer
# target with the sanitizers (clang and its compiler-rt are installed).
fuzz_clang_usable()
{
	local dir rc=1
	command -v "$FUZZ_CC" >/dev/null 2>&1 || return 1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-fuzzcheck.XXXXXX") || return 1
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
		>"$dir/t.c"
	# shellcheck disable=SC2086 # FUZZ_CFLAGS is a list of words
	if "$FUZZ_CC" $FUZZ_CFLAGS "$dir/t.c" -o "$dir/t" >/dev/null 2>&1 &&
		"$dir/t" -runs=1 >/dev/null 2>&1; then
		rc=0
	fi
	rm -rf "$dir"
	return $rc
}

# fuzz_build TARGET OUTDIR: builds OUTDIR/fuzz_TARGET. Compiler errors go to
# stderr; fails when the target is unknown, a source is missing or the
# build fails.
fuzz_build()
{
	local target=$1 outdir=$2 srcs libs f
	local -a paths=()

	srcs=$(fuzz_sources "$target") || { echo "fuzz_build: unknown target $target" >&2; return 1; }
	if f=$(fuzz_missing_source "$target"); then
		echo "fuzz_build: $target: $f does not exist" >&2
		return 1
	fi
	libs=$(fuzz_libs "$target") || { echo "fuzz_build: $target: libraries not found" >&2; return 1; }
	for f in $srcs; do
		paths+=("$fuzz_srcdir/$f")
	done
	mkdir -p "$outdir" || return 1
	# shellcheck disable=SC2086 # FUZZ_CFLAGS and libs are lists of words
	"$FUZZ_CC" $FUZZ_CFLAGS -I "$fuzz_srcdir/common" -I "$fuzz_srcdir/fcgi" -I "$fuzz_srcdir/runner" -I "$fuzz_srcdir/ws" \
		-DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"' \
		"${paths[@]}" $libs -o "$outdir/fuzz_$target"
}

# fuzz_run TARGET BINARY SECONDS: fuzzes a copy of TARGET's corpus (with its
# dictionary when there is one) for SECONDS. Succeeds when libFuzzer exits 0
# and left no crash, leak, timeout or OOM input. Sets FUZZ_RUNS to the
# number of inputs tried. On failure prints why to stderr and keeps the
# work directory (inputs and log) in FUZZ_WORKDIR; on success removes it.
fuzz_run()
{
	local target=$1 binary=$2 seconds=$3 work rc artifacts f
	local -a opts=()

	FUZZ_RUNS=0
	FUZZ_WORKDIR=
	work=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-fuzz-$target.XXXXXX") || return 1
	mkdir "$work/corpus" "$work/artifacts" || return 1
	if [ -d "$fuzz_srcdir/tests/fuzz/corpus/$target" ]; then
		cp -R "$fuzz_srcdir/tests/fuzz/corpus/$target/." "$work/corpus/" || return 1
	fi
	if [ -f "$fuzz_srcdir/tests/fuzz/$target.dict" ]; then
		opts+=("-dict=$fuzz_srcdir/tests/fuzz/$target.dict")
	fi
	# -timeout: one input taking 10 s is a hang. Leak detection is on by default.
	"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" "${opts[@]}" \
		"$work/corpus" >"$work/fuzz.log" 2>&1
	rc=$?
	FUZZ_RUNS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -n 1)
	FUZZ_RUNS=${FUZZ_RUNS:-0}
	artifacts=$(find "$work/artifacts" -type f | sort)
	if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
		rm -rf "$work"
		return 0
	fi
	# shellcheck disable=SC2034 # for the caller
	FUZZ_WORKDIR=$work
	{
		echo "fuzz_$target: failed (exit status $rc); log and inputs kept in $work"
		for f in $artifacts; do
			echo "  crash input: $f"
		done
		tail -n 40 "$work/fuzz.log" | sed 's/^/  | /'
	} >&2
	return 1
}
