#!/usr/bin/env bash
# What a compromised daemon or a leaked log gives away. Each daemon holds
# only its own Redis password in memory: a responder's memory never holds
# the runner's password (its ACL user may run jobs' results into Redis),
# the runner's never the responder's. Read from the live processes' memory
# (/proc/PID/mem), after they have served a job. And the responder's log
# never puts a full job id (the only key to a job's data) on a line with
# the client's address, though it still lets an operator trace a job to
# an address.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq
# Debian's python3, not a pyenv shim on PATH.
[ -x /usr/bin/python3 ] || skip_all "/usr/bin/python3 is not installed (the memory scanner)"
stack_start

conf=$STACK_DIR/sandrun.conf
runner_pw=$(sed -n 's/^redis_runner_password *= *//p' "$conf")
responder_pw=$(sed -n 's/^redis_responder_password *= *//p' "$conf")
# Long random passwords: a chance match in megabytes of memory is impossible.
like "$runner_pw" '^.{32,}$' "the stack's runner password is a long one"
like "$responder_pw" '^.{32,}$' "the stack's responder password is a long one"

# A job, so every daemon has loaded, connected and served.
cd "$WORK"
echo 'print("hello")' > hello.py
run_job . '{"entrypoint":"hello.py"}'
is "$(json .status "$STATUS_JSON")" completed "a job runs"
job=$JOB_ID
# Each responder thread connects to Redis on its first request: a few more
# requests, spread over the responders by the kernel.
for _ in 1 2 3 4 5 6 7 8; do api "$SANDRUN_URL/status/$job"; done
is "$HTTP_STATUS" 200 "its status is served"

# memory_hits SECRET PID... : how many times SECRET's bytes occur in the
# readable memory of each PID and all its descendants (one count per line,
# "PID COUNT"; a process that ended meanwhile is left out), read through
# /proc/PID/maps and /proc/PID/mem by tests/integration/memscan.py.
memory_hits() {
	local secrets=$STACK_DIR/t250.secrets todo=("${@:2}") pids=() p
	while ((${#todo[@]})); do
		p=${todo[0]} todo=("${todo[@]:1}") pids+=("$p")
		# shellcheck disable=SC2207
		todo+=($(cat /proc/"$p"/task/*/children 2>/dev/null))
	done
	(umask 077 && printf 'secret %s\n' "$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')" >"$secrets")
	/usr/bin/python3 "$top_srcdir/tests/integration/memscan.py" "$secrets" "${pids[@]}" |
		awk '$3 >= 0 { print $1, $3 }'
	rm -f "$secrets"
}

# all_zero "PID COUNT" lines: every count is 0 (and there is at least one).
all_zero() { [ -n "$1" ] && printf '%s\n' "$1" | awk '$2 != 0 { bad = 1 } END { exit bad }'; }
all_found() { [ -n "$1" ] && printf '%s\n' "$1" | awk '$2 == 0 { bad = 1 } END { exit bad }'; }

read -r -a fcgi_pids <<<"$SANDRUN_PID_FCGI"
got=$(memory_hits "$responder_pw" "${fcgi_pids[@]}")
echo "$got" | sed 's/^/# responder password in responder pid: /'
[ "$(printf '%s\n' "$got" | wc -l)" -ge 3 ]
ok $? "the master and its responders are scanned"
all_found "$got"
ok $? "every responder process holds its own password (the scanner finds a secret that is there)"

got=$(memory_hits "$runner_pw" "${fcgi_pids[@]}")
echo "$got" | sed 's/^/# runner password in responder pid: /'
all_zero "$got"
ok $? "no responder process holds the runner's password"

got=$(memory_hits "$runner_pw" "$SANDRUN_PID_RUNNER")
echo "$got" | sed 's/^/# runner password in runner pid: /'
all_found "$(printf '%s\n' "$got" | head -n 1)"
ok $? "the runner holds its own password (the scanner finds it there)"

got=$(memory_hits "$responder_pw" "$SANDRUN_PID_RUNNER")
echo "$got" | sed 's/^/# responder password in runner pid: /'
all_zero "$got"
ok $? "no runner process holds the responder's password"

# The logs: the job's full id never on a line with the client's address
# (127.0.0.1 here: nginx's REMOTE_ADDR), in any daemon's log; the operator
# still finds which address submitted it, by the id's first characters.
addr=127.0.0.1
paired=$(grep -hF -- "$job" "$STACK_DIR"/*.log | grep -F -- "$addr")
is "$paired" "" "no log line holds both the job's full id and the client's address"
tag=${job:0:12}   # "job-" and 8 of its 26 random characters: 40 bits, not a key
like "$(grep -hF -- "from $addr" "$STACK_DIR"/fcgi*.log)" "$tag" \
	"the responder's log names the submitting address beside the id's first characters"
unlike "$(grep -hF -- "from $addr" "$STACK_DIR"/fcgi*.log)" "${job:0:13}" \
	"... and no more of the id than that"
done_testing
