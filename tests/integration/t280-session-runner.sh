#!/usr/bin/env bash
# Sessions, the runner's side (docs/sessions.md), driven through Redis as the
# responder would (the admin user plays the responder: the record made
# `starting`, the create entry pushed, the replies popped):
#  - warm sandboxes exist before any create, and a create is answered fast;
#  - one persistent shell (cd, export, functions, background jobs) and one
#    persistent python interpreter per session;
#  - pause freezes the cgroup (a busy loop uses no CPU), resume keeps state;
#  - CPU used in an idle session is charged to the client's sr:cpu:{C};
#  - idle timeout, TTL and `end` end a session with every process gone and
#    its cgroup removed;
#  - a runner killed with SIGKILL leaves no session process behind, and a
#    restarted runner does not bring the session back;
#  - two sessions get two uids; loopback is up inside a session and reaches
#    nothing of another session or of the host; a fresh warm sandbox holds
#    nothing of the session before it.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq redis-cli pgrep sha1sum python3
SES_BASE=$(session_uid_base)
stack_start --set session_pool_size=2 --set sessions_max=6
STACK=$top_srcdir/contrib/sandrun-stack
CLIENT=192.0.2.7
PORT=$((20000 + RANDOM % 20000))

new_sid() { echo "ses-$(head -c 4000 /dev/urandom | tr -dc 'a-z2-7' | head -c 26)"; }
runner_pid() { cat "$STACK_DIR/runner.pid"; }
# ses_create SID [TTL] [IDLE]: makes the record, pushes the entry, waits for the reply (CREATE_REPLY)
ses_create() {
	local sid=$1 ttl=${2:-600} idle=${3:-300}
	rcli HSET "sr:{$sid}:ses" status starting client "$CLIENT" environment default memory_mb 256 \
		ttl_seconds "$ttl" idle_timeout_seconds "$idle" >/dev/null
	rcli RPUSH sr:sespool:default "$(jq -cn --arg s "$sid" --arg c "$CLIENT" --argjson t "$ttl" --argjson i "$idle" \
		'{session_id: $s, environment: "default", memory_mb: 256, env: {}, workspace_id: null,
		  ttl_seconds: $t, idle_timeout_seconds: $i, client: $c}')" >/dev/null
	CREATE_REPLY=$(rcli BLPOP "sr:{$sid}:rep:create" 20 | tail -n +2)
}
RID_N=0
# ses_req SID JSON: sends a request (rid added, last_used_at set as the responder does), REPLY = its final frame
ses_req() {
	local sid=$1 rid frame i
	RID_N=$((RID_N + 1))
	rid=$(printf '%016x' "$RID_N")
	rcli HSET "sr:{$sid}:ses" last_used_at "$(($(date +%s%N) / 1000000))" >/dev/null
	rcli RPUSH "sr:{$sid}:req" "$(jq -c --arg r "$rid" '. + {rid: $r}' <<<"$2")" >/dev/null
	REPLY=
	for ((i = 0; i < 60; i++)); do
		frame=$(rcli BLPOP "sr:{$sid}:rep:$rid" 1 | sed -n 2p)
		[ -n "$frame" ] || continue
		if [ "$(json .final "$frame")" = true ]; then
			REPLY=$frame
			return 0
		fi
	done
	return 1
}
sh_exec() { ses_req "$1" "$(jq -cn --arg c "$2" '{op: "exec", command: $c}')"; json .stdout "$REPLY"; }
ses_uid() { sh_exec "$1" 'id -u'; }
field() { rcli HGET "sr:{$1}:ses" "$2"; }
wait_field() { # wait_field SID FIELD VALUE SECONDS
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(field "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
# the cgroup directories of session sandbox IDX of the runner with pid RPID
ses_cgroups() { find /sys/fs/cgroup -maxdepth 12 -type d -path "*sandrun-runner-$1/session-$2-*" 2>/dev/null; }
cg_cpu_usec() { # the CPU (µs) of session sandbox IDX
	local d
	for d in $(ses_cgroups "$(runner_pid)" "$1"); do
		if [ -f "$d/cpuacct.usage" ]; then echo $(($(cat "$d/cpuacct.usage") / 1000)); return; fi
		if [ -f "$d/cpu.stat" ]; then awk '$1 == "usage_usec" { print $2 }' "$d/cpu.stat"; return; fi
	done
	echo -1
}
no_procs() { # no_procs UID SECONDS: true once uid UID runs nothing
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		pgrep -u "$1" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
warm_uids() { # how many session uids run something
	local n=0 u
	for ((u = SES_BASE; u < SES_BASE + 6; u++)); do pgrep -u "$u" >/dev/null && n=$((n + 1)); done
	echo "$n"
}

# --- the warm pool
for _ in $(seq 100); do [ "$(warm_uids)" -ge 2 ] && break; sleep 0.1; done
ok "$([ "$(warm_uids)" -ge 2 ]; echo $?)" "two warm sandboxes run before any create"
A=$(new_sid)
t0=$(date +%s%N)
ses_create "$A"
ms=$((($(date +%s%N) - t0) / 1000000))
is "$(json .ok "$CREATE_REPLY")" true "a create is answered ok"
ok "$([ "$ms" -lt 2000 ]; echo $?)" "... from a warm sandbox, fast (${ms} ms)"
is "$(field "$A" status)" ready "the record says ready"
like "$(field "$A" runner)" ":$(runner_pid)\$" "... on this runner"
like "$(field "$A" expires_at)" '^[0-9]{13}$' "... with its expiry"
for _ in $(seq 50); do [ "$(warm_uids)" -ge 3 ] && break; sleep 0.1; done
ok "$([ "$(warm_uids)" -ge 3 ]; echo $?)" "the pool is refilled once one is claimed"

# --- an entry whose record is not `starting` is dropped; the sandbox stays warm
X=$(new_sid)
rcli HSET "sr:{$X}:ses" status ended reason no_sandbox client "$CLIENT" >/dev/null
rcli RPUSH sr:sespool:default "$(jq -cn --arg s "$X" --arg c "$CLIENT" '{session_id: $s, environment: "default",
	memory_mb: 256, env: {}, workspace_id: null, ttl_seconds: 60, idle_timeout_seconds: 60, client: $c}')" >/dev/null
is "$(rcli BLPOP "sr:{$X}:rep:create" 2 | sed -n 2p)" "" "a create entry of an abandoned session gets no reply"
is "$(rcli HGET "sr:{$X}:ses" runner)$(rcli LLEN sr:sespool:default)" 0 "... is dropped, its record untouched"
rcli RPUSH sr:sespool:default '{"session_id": "not-a-session"}' >/dev/null
sleep 1.5
is "$(rcli LLEN sr:sespool:default)" 0 "a malformed create entry is dropped"

# --- one persistent shell
sh_exec "$A" 'cd /tmp; export GREETING=hello; f() { echo "f:$1"; }; sleep 1000 & true' >/dev/null
is "$(sh_exec "$A" 'echo "$PWD $GREETING $(f x)"')" "/tmp hello f:x" "cd, export and functions persist"
like "$(sh_exec "$A" 'jobs; pgrep -x sleep | wc -l')" '(sleep 1000|^[1-9])' "a background job survives its call"
is "$(json .cwd "$REPLY")" /tmp "the reply carries the shell's cwd"
is "$(sh_exec "$A" 'ls -d /workspace /work; touch /work/w1; ls /workspace')" "$(printf '/work\n/workspace\nw1')" \
	"/workspace is /work"
ses_req "$A" '{"op": "exec", "code": "x = 41", "language": "python3"}'
ses_req "$A" '{"op": "exec", "code": "print(x + 1)", "language": "python3"}'
is "$(json .stdout "$REPLY")" "42" "python variables persist between calls"
ses_req "$A" '{"op": "exec", "command": "sleep 5", "timeout": 1}'
is "$(json .timed_out "$REPLY")" true "an exec's timeout (seconds) is kept"
ses_req "$A" '{"op": "exec", "command": "echo a; echo b >&2", "stream": true}'
ok "$([ "$(json .final "$REPLY")" = true ]; echo $?)" "a streamed exec ends with a final frame"
ses_req "$A" '{"op": "frobnicate"}'
is "$(json .status "$REPLY")" 400 "an unknown op is a 400"

# --- files, snapshots, workspaces, env, streaming: the agent's file ops
# (docs/sessions.md). Until the agent serves them, each is a skip.
FILE_TESTS="writes a file through a data key|reads it back as a binary frame|lists a directory|snapshots the workspace|the snapshot is reserved in the client's ledger|a session starts from the snapshot|env reaches the shell|a streamed exec sends events, then the final frame"
ses_req "$A" '{"op": "read", "path": "/work"}'
if [ "$(json .ok "$REPLY")" != true ]; then
	IFS='|' read -ra names <<<"$FILE_TESTS"
	for n in "${names[@]}"; do skip "$n" "this agent has no file ops yet ($(json .error "$REPLY"))"; done
else
	RID_N=$((RID_N + 1)); rid=$(printf '%016x' "$RID_N")
	printf 'DATA123' | rcli -x SET "sr:{$A}:data:$rid" >/dev/null
	rcli RPUSH "sr:{$A}:req" "{\"rid\":\"$rid\",\"op\":\"write\",\"path\":\"f/c.txt\",\"size\":7}" >/dev/null
	is "$(json .ok "$(rcli BLPOP "sr:{$A}:rep:$rid" 20 | sed -n 2p)")" true "writes a file through a data key"
	RID_N=$((RID_N + 1)); rid=$(printf '%016x' "$RID_N")
	rcli RPUSH "sr:{$A}:req" "{\"rid\":\"$rid\",\"op\":\"read\",\"path\":\"f/c.txt\"}" >/dev/null
	rcli BLPOP "sr:{$A}:rep:$rid" 20 >/dev/null
	is "$(rcli LPOP "sr:{$A}:rep:$rid")" DATA123 "reads it back as a binary frame"
	ses_req "$A" '{"op": "read", "path": "/work/f"}'
	is "$(json '.entries[0].name' "$REPLY")" c.txt "lists a directory"
	ses_req "$A" '{"op": "snapshot"}'
	WID=$(json .workspace_id "$REPLY")
	like "$WID" '^wsp-[a-z2-7]{26}$' "snapshots the workspace"
	like "$(rcli HGET "sr:store:{$CLIENT}" "$(printf %s "$WID" | sha1sum | cut -d' ' -f1)")" '^[0-9]+ [0-9]+$' \
		"the snapshot is reserved in the client's ledger"
	W=$(new_sid)
	rcli HSET "sr:{$W}:ses" status starting client "$CLIENT" environment default >/dev/null
	rcli RPUSH sr:sespool:default "$(jq -cn --arg s "$W" --arg c "$CLIENT" --arg w "$WID" '{session_id: $s,
		environment: "default", memory_mb: 256, env: {GREET: "hi there"}, workspace_id: $w, ttl_seconds: 60,
		idle_timeout_seconds: 60, client: $c}')" >/dev/null
	rcli BLPOP "sr:{$W}:rep:create" 20 >/dev/null
	is "$(sh_exec "$W" 'cat /work/f/c.txt')" DATA123 "a session starts from the snapshot"
	is "$(sh_exec "$W" 'echo "$GREET"')" "hi there" "env reaches the shell"
	RID_N=$((RID_N + 1)); rid=$(printf '%016x' "$RID_N")
	rcli RPUSH "sr:{$W}:req" "{\"rid\":\"$rid\",\"op\":\"exec\",\"command\":\"echo one; sleep 0.3; echo two\",\"stream\":true}" >/dev/null
	frames=$(for _ in 1 2 3; do rcli BLPOP "sr:{$W}:rep:$rid" 10 | sed -n 2p; done | jq -c '.event // (.final|tostring)' | tr '\n' ' ')
	is "$frames" '"stdout" "stdout" "true" ' "a streamed exec sends events, then the final frame"
	ses_req "$W" '{"op": "end"}'
fi

# --- pause and resume
UID_A=$(ses_uid "$A")
IDX_A=$((UID_A - SES_BASE))
sh_exec "$A" '(while :; do :; done) &' >/dev/null
sleep 0.5
ses_req "$A" '{"op": "pause"}'
is "$(json .ok "$REPLY")" true "pause answers ok"
is "$(field "$A" status)" paused "the record says paused"
c1=$(cg_cpu_usec "$IDX_A")
sleep 2
c2=$(cg_cpu_usec "$IDX_A")
ok "$([ "$c1" -ge 0 ] && [ $((c2 - c1)) -lt 50000 ]; echo $?)" "a busy loop uses no CPU while paused ($((c2 - c1)) µs in 2 s)"
ses_req "$A" '{"op": "exec", "command": "true"}'
is "$(json .status "$REPLY")" 409 "exec on a paused session is a 409"
ses_req "$A" '{"op": "resume"}'
is "$(field "$A" status)" ready "resume: the record says ready"
is "$(sh_exec "$A" 'echo "$PWD $GREETING"')" "/tmp hello" "... and the shell kept its state"

# --- CPU charged while the session is idle (its busy loop runs on)
DIGEST=$(printf %s "$A" | sha1sum | cut -d' ' -f1)
sleep 3
charged=$(rcli ZRANGE "sr:cpu:{$CLIENT}" 0 -1 | grep "^$DIGEST:" | awk -F: '{ s += $3 } END { printf "%.0f", s * 1000 }')
ok "$([ "${charged:-0}" -ge 1500 ]; echo $?)" "CPU used in an idle session is charged to sr:cpu:{C} (${charged} ms)"
like "$(rcli ZRANGE "sr:cpu:{$CLIENT}" 0 0)" "^$DIGEST:[0-9]+:[0-9.]+\$" "... as DIGEST:N:seconds"
like "$(field "$A" cpu_seconds)" '^[1-9][0-9]*\.' "the record's cpu_seconds follows"

# --- loopback: inside one session only
B=$(new_sid)
ses_create "$B"
UID_B=$(ses_uid "$B")
ok "$([ -n "$UID_B" ] && [ "$UID_B" != "$UID_A" ]; echo $?)" "two sessions run as two uids ($UID_A, $UID_B)"
sh_exec "$A" "python3 -m http.server $PORT --bind 127.0.0.1 >/dev/null 2>&1 & sleep 1.5" >/dev/null
probe="python3 -c 'import socket; s = socket.socket(); s.settimeout(2); s.connect((\"127.0.0.1\", $PORT)); print(\"open\")' 2>/dev/null || echo closed"
is "$(sh_exec "$A" "$probe")" open "a server on 127.0.0.1 is reachable from its session"
is "$(sh_exec "$B" "$probe")" closed "... not from another session"
is "$(bash -c "$probe")" closed "... nor from the host"

# --- end: everything goes
IDX_B=$((UID_B - SES_BASE))
RPID=$(runner_pid)
sh_exec "$B" 'echo secret > /work/mine; echo secret > /tmp/mine; sleep 999 &' >/dev/null
CG_B=$(ses_cgroups "$RPID" "$IDX_B")
ok "$([ -n "$CG_B" ] && grep -qx "$(pgrep -f 'sleep 999' | head -1)" $(for d in $CG_B; do ls "$d"/cgroup.procs; done); echo $?)" \
	"the session's processes are in its cgroup"
ses_req "$B" '{"op": "end"}'
is "$(json .ok "$REPLY")" true "end answers ok"
is "$(field "$B" status)" ended "the record says ended"
is "$(field "$B" reason)" deleted "... reason deleted"
like "$(rcli TTL "sr:{$B}:ses")" '^[0-9]+$' "... and expires"
is "$(rcli EXISTS "sr:{$B}:req")" 0 "the request list is gone"
ok "$(! pgrep -f 'sleep 999' >/dev/null; echo $?)" "no process of the ended session is left"
ok "$(r=0; for d in $CG_B; do [ -e "$d" ] && r=1; done; echo $r)" "... and its cgroup is removed"

# --- a fresh sandbox holds nothing of the last one
for _ in $(seq 50); do pgrep -u "$UID_B" >/dev/null && break; sleep 0.1; done
C=$(new_sid)
ses_create "$C"
ses_create "$(new_sid)"      # another one, so that C or it takes the index B had
out=$(sh_exec "$C" 'cat /work/mine /tmp/mine 2>&1; ls -A /work; pgrep -c sleep')
unlike "$out" secret "a new session sees no file of an ended one"
ok "$(sh_exec "$C" 'pgrep -x sleep >/dev/null; echo $?' | grep -qx 1; echo $?)" "... nor its processes"

# --- idle timeout and TTL
D=$(new_sid)
ses_create "$D" 600 2
UID_D=$(ses_uid "$D")
sh_exec "$D" 'sleep 777 &' >/dev/null
wait_field "$D" status ended 8
ok $? "a session without requests ends at its idle timeout"
is "$(field "$D" reason)" idle_timeout "... reason idle_timeout"
ok "$(! pgrep -f 'sleep 777' >/dev/null; echo $?)" "... with every process gone"
E=$(new_sid)
ses_create "$E" 3 300
sh_exec "$E" 'sleep 778 &' >/dev/null
wait_field "$E" status ended 8
ok $? "a session ends at its TTL"
is "$(field "$E" reason)" ttl "... reason ttl"
ok "$(! pgrep -f 'sleep 778' >/dev/null; echo $?)" "... with every process gone"
is "$(rcli ZSCORE "sr:sessions:{$CLIENT}" "$(printf %s "$E" | sha1sum | cut -d' ' -f1)")" "" \
	"an ended session leaves its client's live sessions"

# --- a runner killed with SIGKILL takes its sessions with it
F=$(new_sid)
ses_create "$F"
sh_exec "$F" 'sleep 4242 &' >/dev/null
ok "$(pgrep -f 'sleep 4242' >/dev/null; echo $?)" "a session's process runs"
OLD=$(runner_pid)
SUPS=$(pgrep -P "$OLD" | tr '\n' ' ')
ok "$([ -n "$SUPS" ]; echo $?)" "the runner's session supervisors run ($SUPS)"
kill -KILL "$OLD"
for _ in $(seq 50); do pgrep -f 'sleep 4242' >/dev/null || break; sleep 0.1; done
ok "$(! pgrep -f 'sleep 4242' >/dev/null; echo $?)" "killing the runner (SIGKILL, its process alone) kills its sessions"
for _ in $(seq 30); do r=0; for p in $SUPS; do kill -0 "$p" 2>/dev/null && r=1; done; [ $r = 0 ] && break; sleep 0.1; done
is "$r" 0 "... and their supervisors (PR_SET_PDEATHSIG)"
"$STACK" restart runner "$STACK_DIR" >/dev/null 2>&1
. "$STACK_DIR/client.env"
sleep 2
ok "$(! pgrep -f 'sleep 4242' >/dev/null; echo $?)" "a restarted runner does not bring them back"
RID_N=$((RID_N + 1))
rcli RPUSH "sr:{$F}:req" "{\"rid\":\"$(printf '%016x' $RID_N)\",\"op\":\"exec\",\"command\":\"echo back\"}" >/dev/null
is "$(rcli BLPOP "sr:{$F}:rep:$(printf '%016x' $RID_N)" 3 | sed -n 2p)" "" "... nor serves their requests"
is "$(find /sys/fs/cgroup -maxdepth 10 -type d -name "sandrun-runner-$OLD" 2>/dev/null | wc -l)" 0 \
	"... and removed the dead runner's cgroups"
G=$(new_sid)
ses_create "$G"
is "$(json .ok "$CREATE_REPLY")" true "the restarted runner serves new sessions"
ses_req "$G" '{"op": "end"}'

done_testing
