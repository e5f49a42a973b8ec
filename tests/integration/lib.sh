# Shared by the integration tests: TAP output and a whole stack (Redis,
# runner, responder pool, nginx) of the test's own, on free loopback ports
# in a temporary directory, stopped when the test exits.
#
# Each test sources this file, calls stack_start, and uses api/submit/
# wait_job against $SANDRUN_URL with $SANDRUN_CACERT, as a user would.

set -u
: "${top_srcdir:?run through make check, or set top_srcdir}"
: "${top_builddir:=$top_srcdir}"

tap_n=0
tap_failed=0

ok() { # ok CONDITION-EXIT-STATUS NAME
	local status=$1; shift
	tap_n=$((tap_n + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $tap_n - $*"
	else
		echo "not ok $tap_n - $*"
		tap_failed=$((tap_failed + 1))
	fi
	return "$status"
}

is() { # is GOT WANT NAME
	local got=$1 want=$2; shift 2
	[ "$got" = "$want" ]
	ok $? "$*" || { echo "#   got:  '$got'"; echo "#   want: '$want'"; }
}

like() { # like GOT EXTENDED-REGEX NAME
	local got=$1 re=$2; shift 2
	printf '%s' "$got" | grep -Eq -- "$re"
	ok $? "$*" || { echo "#   got:  '$(printf '%s' "$got" | head -c 600)'"; echo "#   want match: /$re/"; }
}

unlike() { # unlike GOT EXTENDED-REGEX NAME
	local got=$1 re=$2; shift 2
	! printf '%s' "$got" | grep -Eq -- "$re"
	ok $? "$*" || echo "#   got:  '$(printf '%s' "$got" | head -c 600)'"
}

skip() { # skip NAME REASON : one test that cannot run here, counted as a TAP skip
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root (namespaces, mounts, cgroups)"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed"
	done
}

# Job uids of this test's own. RLIMIT_NPROC counts a uid's processes across
# the whole kernel, so stacks running at once (make -j2 check) must never
# share a job uid: a fork bomb in one would starve the other's jobs. 2048
# uids per test (uid_base 0..15: runners of up to 64 slots; then 1024 for
# session sandboxes, session_uid_base), from the test's pid; the runner's
# defaults (1900000, 1950000) are never used by a test.
TEST_UID_BASE=$((3000000 + ($$ % 100000) * 2048))
uid_base() { echo $((TEST_UID_BASE + ${1:-0} * 64)); }
session_uid_base() { echo $((TEST_UID_BASE + 1024)); }

STACK_DIR=
stack_stop() {
	[ -n "$STACK_DIR" ] || return 0
	if [ "$tap_failed" -ne 0 ]; then
		local f
		for f in "$STACK_DIR"/*.log; do
			[ -f "$f" ] || continue
			echo "# --- last lines of $(basename "$f")"
			tail -n 25 "$f" | sed 's/^/#   /'
		done
	fi
	"$top_srcdir/contrib/sandrun-stack" stop "$STACK_DIR" >/dev/null 2>&1 || true
	rm -rf "$STACK_DIR"
	STACK_DIR=
}

# stack_start [sandrun-stack start options...]
stack_start() {
	require_root
	require_cmd redis-server nginx curl openssl
	STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-test.XXXXXX")
	trap stack_stop EXIT
	if ! "$top_srcdir/contrib/sandrun-stack" start "$STACK_DIR" --bin-dir "$top_builddir" \
		--fcgi-workers 2 --runner-slots 2 --set "job_uid_base=$(uid_base 0)" --set "session_uid_base=$(session_uid_base)" "$@" \
		>"$STACK_DIR/start.out" 2>&1; then
		echo "Bail out! the stack did not start:"
		sed 's/^/# /' "$STACK_DIR/start.out"
		tap_failed=1
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$STACK_DIR/client.env"
	WORK=$STACK_DIR/work
	mkdir -p "$WORK"
}

# api CURL-ARGS... : sets BODY, HTTP_STATUS and HTTP_HEADERS (no output: call it
# directly, not in $(...), or the variables are lost).
api() {
	local hdr=$STACK_DIR/last.headers
	HTTP_STATUS=$(curl -sS --max-time 30 --cacert "$SANDRUN_CACERT" -D "$hdr" -o "$STACK_DIR/last.body" \
		-w '%{http_code}' "$@") || HTTP_STATUS=000
	HTTP_HEADERS=$(tr -d '\r' <"$hdr" 2>/dev/null)
	BODY=$(cat "$STACK_DIR/last.body" 2>/dev/null)
}

# rcli REDIS-CLI-ARGS... : the stack's Redis as its admin user (the password
# not on the command line), raw replies.
rcli() {
	REDISCLI_AUTH=$SANDRUN_REDIS_ADMIN_PASSWORD redis-cli -h 127.0.0.1 -p "$SANDRUN_REDIS_PORT" \
		--user sandrun-admin --no-auth-warning --raw "$@"
}

# runner_wait NAME PID : until an extra runner started by the test (logging
# to $STACK_DIR/NAME.log) has announced itself in Redis; 30 s at most.
runner_wait() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q 'heartbeat in sr:runners' "$STACK_DIR/$1.log" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# json FILTER [TEXT] : jq on TEXT (default $BODY), raw output.
json() {
	printf '%s' "${2-$BODY}" | jq -r "$1" 2>/dev/null
}

# wait_job ID [SECONDS] : polls /status until the job leaves queued/running; sets STATUS_JSON.
wait_job() {
	local id=$1 limit=${2:-60} st i
	for ((i = 0; i < limit * 10; i++)); do
		STATUS_JSON=$(curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/status/$id")
		st=$(json .status "$STATUS_JSON")
		case $st in
		queued|running) sleep 0.1 ;;
		*) return 0 ;;
		esac
	done
	return 1
}

# submit_tar DIR MANIFEST-JSON : tars the contents of DIR and submits them with curl -F.
submit_tar() {
	local dir=$1 manifest=$2 tarball
	tarball=$(mktemp "$STACK_DIR/upload.XXXXXX")
	tar czf "$tarball" -C "$dir" .
	api -X POST "$SANDRUN_URL/submit" -F "files=@$tarball" -F "manifest=$manifest"
}

# run_job DIR MANIFEST [SECONDS] : submits and waits; sets JOB_ID and STATUS_JSON.
run_job() {
	submit_tar "$1" "$2"
	JOB_ID=$(json .job_id)
	if [ -z "$JOB_ID" ] || [ "$JOB_ID" = null ]; then
		echo "# submit failed: $HTTP_STATUS $BODY"
		STATUS_JSON=
		return 1
	fi
	wait_job "$JOB_ID" "${3:-60}"
}

# logs ID [QUERY] : the job's logs as text.
logs() {
	curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/logs/$1${2:+?$2}"
}
