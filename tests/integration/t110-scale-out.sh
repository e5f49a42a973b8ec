#!/usr/bin/env bash
# Scale-out, tested for real: two runner "hosts", each in a network
# namespace of its own with one veth pair to this host, where Redis is the
# only thing they reach; two responder pools behind one nginx upstream.
# Jobs spread over both runners, and a runner killed in mid-job (SIGKILL to
# its whole process group: runner, supervisor, sandbox) loses no job: once
# its lease lapses (LEASE_MS, 15 s) the other runner takes the job over and
# runs it once more; GET /stats counts the live runners.
#
# The runners enter their namespace with nsenter --net, not "ip netns exec":
# the latter also remounts /sys for the namespace, which hides the host's
# cgroup mounts, and a runner without cgroups takes no job.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq tar ip nsenter setsid redis-cli nft timeout
# Jobs from this test's one client address: more than the default 2 at once.
# Every slot of both runners for one client: what is tested is the split, not fair shares (t230).
stack_start --no-runner --fcgi-pools 2 --set quota_jobs_max=12 --set quota_running_max=12
cd "$WORK" || exit 1

T0=$(date +%s)
NS_A=sr110a-$$ NS_B=sr110b-$$            # the two "hosts"
VETH_A=v$$a0 VETH_B=v$$b0                # their links, this side (names < 16 bytes)
NFT_TABLE=sandrun_t110_$$
declare -A RUNNER_PID=()                 # runner name -> pid (= its process group)
declare -A RUNNER_UID=([host-a]=$(uid_base 1) [host-b]=$(uid_base 2))
KILLED_GROUPS=()                         # process groups of runners killed on purpose
REDIS_BIND_BEFORE=
LISTENER_PID=

in_ns() { # in_ns NS COMMAND... : COMMAND in the network namespace NS only
	nsenter --net="/run/netns/$1" -- "${@:2}"
}
tcp_open_in() { # tcp_open_in NS ADDRESS PORT : a TCP connection from NS succeeds within 2 s
	# shellcheck disable=SC2016  # expanded by the inner bash
	in_ns "$1" timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>/dev/null
}
job_field() { # job_field ID FIELD
	rcli HGET "sr:{$1}:job" "$2"
}
runners_live() { # system.runners of GET /stats
	curl -sS --max-time 10 --cacert "$SANDRUN_CACERT" "$SANDRUN_URL/stats" | jq -r .system.runners 2>/dev/null
}

# Stops what this test started, then the stack. Only our own pids and
# groups (a group id is never reused while a member lives), our namespaces,
# links and nft table.
t110_cleanup() {
	local name pid i
	for name in "${!RUNNER_PID[@]}"; do
		pid=${RUNNER_PID[$name]}
		kill -TERM "$pid" 2>/dev/null
	done
	for name in "${!RUNNER_PID[@]}"; do
		pid=${RUNNER_PID[$name]}
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null
	done
	for pid in "${KILLED_GROUPS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
	[ -z "$LISTENER_PID" ] || kill "$LISTENER_PID" 2>/dev/null
	[ -z "$REDIS_BIND_BEFORE" ] || rcli CONFIG SET bind "$REDIS_BIND_BEFORE" >/dev/null 2>&1
	nft delete table inet "$NFT_TABLE" 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	ip link del "$VETH_A" 2>/dev/null
	ip link del "$VETH_B" 2>/dev/null
	stack_stop
}
trap t110_cleanup EXIT

# --- the network: 10.R.1.0/24 to host-a, 10.R.2.0/24 to host-b, R picked
# per run among the 10.x nets this host has no address or route in
for _ in $(seq 20); do
	R=$((RANDOM % 200 + 20))
	ip -4 addr show | grep -q "inet 10\.$R\." && continue
	ip -4 route show table all | grep -q "10\.$R\." && continue
	break
done
HOST_A=10.$R.1.1 NS_A_IP=10.$R.1.2      # this side / the namespace's side
HOST_B=10.$R.2.1 NS_B_IP=10.$R.2.2
make_host() { # make_host NS VETH HOST-IP NS-IP
	ip netns add "$1" &&
		ip link add "$2" type veth peer name eth0 netns "$1" &&
		{ [ ! -d /proc/sys/net/ipv6 ] || sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"; } &&
		ip addr add "$3/24" dev "$2" && ip link set "$2" up &&
		ip -n "$1" addr add "$4/24" dev eth0 && ip -n "$1" link set eth0 up &&
		ip -n "$1" link set lo up
}
if ! make_host "$NS_A" "$VETH_A" "$HOST_A" "$NS_A_IP" 2>"$STACK_DIR/netns.err" ||
	! make_host "$NS_B" "$VETH_B" "$HOST_B" "$NS_B_IP" 2>>"$STACK_DIR/netns.err"; then
	skip_all "cannot make network namespaces and veth pairs here: $(head -c 200 "$STACK_DIR/netns.err")"
fi
# Only Redis's port answers on the links: whatever else this host serves on
# all addresses stays out of the "hosts'" reach.
nft -f - <<EOF
table inet $NFT_TABLE {
	chain input {
		type filter hook input priority filter; policy accept;
		iifname { "$VETH_A", "$VETH_B" } tcp dport $SANDRUN_REDIS_PORT accept
		iifname { "$VETH_A", "$VETH_B" } drop
	}
}
EOF
ok $? "a filter lets only Redis's port in from the two links"

REDIS_BIND_BEFORE=$(rcli CONFIG GET bind | sed -n 2p)
is "$(rcli CONFIG SET bind "$REDIS_BIND_BEFORE $HOST_A $HOST_B")" OK \
	"Redis also listens on this side of both links ($HOST_A, $HOST_B)"

# --- each "host" reaches Redis over its link, and nothing else of this host
for ns in "$NS_A:$HOST_A:$HOST_B" "$NS_B:$HOST_B:$HOST_A"; do
	IFS=: read -r n near far <<<"$ns"
	got=$(in_ns "$n" env REDISCLI_AUTH="$SANDRUN_REDIS_ADMIN_PASSWORD" timeout 5 \
		redis-cli -h "$near" -p "$SANDRUN_REDIS_PORT" --user sandrun-admin --no-auth-warning PING 2>&1)
	is "$got" PONG "$n reaches Redis at $near (protected-mode and ACLs let it in)"
	ok "$(! tcp_open_in "$n" 127.0.0.1 "$SANDRUN_REDIS_PORT"; echo $?)" \
		"$n does not reach Redis on 127.0.0.1 (its loopback is its own)"
	ok "$(! tcp_open_in "$n" 127.0.0.1 "$SANDRUN_HTTPS_PORT"; echo $?)" \
		"$n does not reach nginx on 127.0.0.1:$SANDRUN_HTTPS_PORT"
	ok "$(! tcp_open_in "$n" "$near" "$SANDRUN_HTTPS_PORT"; echo $?)" \
		"$n does not reach nginx at $near either"
	ok "$(! tcp_open_in "$n" 127.0.0.1 "${SANDRUN_FCGI_PORTS%% *}"; echo $?)" \
		"$n does not reach a responder pool"
	ok "$(! tcp_open_in "$n" "$far" "$SANDRUN_REDIS_PORT"; echo $?)" \
		"$n has no way to the other link ($far)"
done
# A port this host serves on all addresses (a listener of our own) stays out of reach.
LISTENER_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$LISTENER_PORT" </dev/null >/dev/null 2>&1 &
LISTENER_PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$LISTENER_PORT") 2>/dev/null && break; sleep 0.1; done
ok "$(! tcp_open_in "$NS_A" "$HOST_A" "$LISTENER_PORT"; echo $?)" \
	"a service of this host on all addresses is not reachable from $NS_A"
kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null; LISTENER_PID=

# --- one runner per "host", each in a process group of its own
runner_start() { # runner_start NAME NS HOST-IP
	local name=$1 conf=$STACK_DIR/$1.conf
	mkdir -p "$STACK_DIR/$name"
	{
		grep -Ev '^[[:space:]]*(redis_address|runner_name|runner_state_dir|job_uid_base|runner_slots)[[:space:]]*=' \
			"$STACK_DIR/sandrun.conf"
		echo "redis_address = $3:$SANDRUN_REDIS_PORT"
		echo "runner_name = $name"
		echo "runner_state_dir = $STACK_DIR/$name"
		echo "job_uid_base = ${RUNNER_UID[$name]}"   # runners on one kernel never share job uids
		echo "runner_slots = 1"
	} >"$conf"
	(
		# No descriptor of the test driver's goes with it (make would wait on it).
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null; fi
		done
		exec setsid nsenter --net="/run/netns/$2" -- "$top_builddir/sandrun-runner" -c "$conf" \
			</dev/null >>"$STACK_DIR/$name.log" 2>&1
	) &
	RUNNER_PID[$name]=$!
	disown "$!" 2>/dev/null   # no "Killed" notice from this shell when it is killed
}
runner_start host-a "$NS_A" "$HOST_A"
runner_start host-b "$NS_B" "$HOST_B"
for name in host-a host-b; do
	runner_wait "$name" "${RUNNER_PID[$name]}"
	ok $? "runner $name runs in its namespace and announces itself over its link" ||
		{ echo "Bail out! runner $name did not come up"; exit 1; }
done
for name in host-a host-b; do
	[ "$name" = host-a ] && n=$NS_A || n=$NS_B
	is "$(stat -L -c %i "/proc/${RUNNER_PID[$name]}/ns/net")" "$(stat -L -c %i "/run/netns/$n")" \
		"$name's runner is in $n's network namespace"
done
clients=$(rcli CLIENT LIST)
like "$clients" "addr=$NS_A_IP:[0-9]+ " "Redis has host-a's connections from $NS_A_IP"
like "$clients" "addr=$NS_B_IP:[0-9]+ " "Redis has host-b's connections from $NS_B_IP"
is "$(rcli ZCARD sr:runners)" 2 "sr:runners lists both runners"
is "$(runners_live)" 2 "GET /stats counts 2 live runners"

# --- jobs spread over both runners (one slot each) through both pools
mkdir -p quick long
printf 'sleep 0.5\necho quick\n' > quick/job.sh
printf 'sleep 6\necho survived\n' > long/job.sh
ids=()
for i in 1 2 3 4 5 6 7 8; do
	submit_tar quick '{"entrypoint":"job.sh"}'
	[ "$HTTP_STATUS" = 200 ] || echo "# submit $i: $HTTP_STATUS $BODY"
	ids+=("$(json .job_id)")
done
like "${ids[*]}" '^(job-[a-z2-7]{26} ){7}job-[a-z2-7]{26}$' "8 jobs accepted"
completed=0 on_a=0 on_b=0
for id in "${ids[@]}"; do
	wait_job "$id" 40 && [ "$(json .status "$STATUS_JSON")" = completed ] && completed=$((completed + 1))
	case $(job_field "$id" runner) in
	host-a) on_a=$((on_a + 1)) ;;
	host-b) on_b=$((on_b + 1)) ;;
	esac
done
is "$completed" 8 "all 8 jobs completed"
is "$((on_a + on_b))" 8 "each was run by host-a or host-b (a: $on_a, b: $on_b)"
ok "$([ "$on_a" -ge 1 ] && [ "$on_b" -ge 1 ]; echo $?)" "both runners ran jobs (a: $on_a, b: $on_b)"
is "$(logs "${ids[0]}")" quick "a job's output is there"
for k in 1 2; do
	n=0
	for id in "${ids[@]}"; do grep -qF "queued job ${id:0:12}... from" "$STACK_DIR/fcgi-$k.log" && n=$((n + 1)); done
	ok "$([ "$n" -ge 1 ]; echo $?)" "responder pool $k accepted some of them ($n)"
done

# --- a runner killed in mid-job: the other takes the job over
submit_tar long '{"entrypoint":"job.sh"}'
long_id=$(json .job_id)
victim=
for _ in $(seq 200); do
	if [ "$(job_field "$long_id" status)" = running ]; then
		victim=$(job_field "$long_id" runner)
		[ -n "$victim" ] && break
	fi
	sleep 0.1
done
like "$victim" '^host-[ab]$' "the 6 s job is running on a runner ($victim)"
victim=${victim:-host-a}
[ "$victim" = host-a ] && survivor=host-b || survivor=host-a
# Mid-job: its program runs, as the victim's first job uid.
running=
for _ in $(seq 100); do
	running=$(pgrep -u "${RUNNER_UID[$victim]}" | paste -sd ' ')
	[ -n "$running" ] && break
	sleep 0.1
done
like "$running" '[0-9]' "its program runs as uid ${RUNNER_UID[$victim]} (pids $running)"
is "$(runners_live)" 2 "GET /stats still counts 2 runners just before the kill"
vpid=${RUNNER_PID[$victim]}
kill -KILL -- "-$vpid"
t_kill=$(date +%s%N)
for _ in $(seq 50); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.1; done
ok "$(! kill -0 "$vpid" 2>/dev/null; echo $?)" "runner $victim and its process group are killed (SIGKILL)"
unset "RUNNER_PID[$victim]"
KILLED_GROUPS+=("$vpid")
left=
for _ in $(seq 30); do
	left=$(pgrep -u "${RUNNER_UID[$victim]}" | paste -sd ' ')
	[ -z "$left" ] && break
	sleep 0.1
done
is "$left" "" "no process of $victim's job is left (it cannot run twice at once)"

# A job submitted after the kill runs (on the survivor).
submit_tar quick '{"entrypoint":"job.sh"}'
after_id=$(json .job_id)
wait_job "$after_id" 30
is "$(json .status "$STATUS_JSON")" completed "a job submitted after the kill completes"
is "$(job_field "$after_id" runner)" "$survivor" "... on the surviving runner"

# Poll both: /stats forgets the dead runner; the job ends after its takeover.
dropped_ms="" ended_ms="" st=""
for _ in $(seq 120); do
	now_ms=$((($(date +%s%N) - t_kill) / 1000000))
	if [ -z "$dropped_ms" ] && [ "$(runners_live)" = 1 ]; then dropped_ms=$now_ms; fi
	if [ -z "$ended_ms" ]; then
		st=$(job_field "$long_id" status)
		case $st in queued | running) ;; *) ended_ms=$now_ms ;; esac
	fi
	[ -n "$dropped_ms" ] && [ -n "$ended_ms" ] && break
	[ "$now_ms" -gt 45000 ] && break
	sleep 0.5
done
ok "$([ -n "$dropped_ms" ] && [ "$dropped_ms" -le 20000 ]; echo $?)" \
	"GET /stats counts 1 runner within 20 s of the kill (after ${dropped_ms:-more than 45000} ms)"
is "$st" completed "the killed runner's job completes after all (within ${ended_ms:-more than 45000} ms of the kill)"
is "$(logs "$long_id")" survived "... with its output, once"
is "$(job_field "$long_id" runner)" "$survivor" "... run by the other runner ($survivor)"
is "$(job_field "$long_id" attempts)" 2 "... on its second attempt"
is "$(job_field "$long_id" exit_code)" 0 "... exit code 0"
is "$(rcli XPENDING sr:queue runners | head -n 1)" 0 "no queue entry is left pending"
ok "$(kill -0 "${RUNNER_PID[$survivor]}" 2>/dev/null; echo $?)" "the surviving runner is still up"

echo "# run time $(($(date +%s) - T0)) s after the stack was up"
done_testing
