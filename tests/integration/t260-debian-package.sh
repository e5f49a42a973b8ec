#!/usr/bin/env bash
# The Debian packages (debian/): built from a copy of this tree with
# dpkg-buildpackage, checked by lintian, installed into a fresh Debian 12
# tree (mmdebstrap), where their files, user, configuration and units are
# checked; upgraded over an edited configuration, which stays as it was;
# the daemons started from their installed paths with the units' own
# command lines, and a job run through the tree's nginx; the tree booted
# with systemd-nspawn -b, where this machine can, so the units run for
# real; and purged, which leaves nothing of ours behind.
#
# Everything the tree runs is in a network namespace of the test's own
# (loopback only). The Debian 12 base tree (mmdebstrap, ~70 s) is kept
# in the build tree between runs; our packages go into a fresh copy of it
# every time.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd dpkg-buildpackage dh lintian mmdebstrap curl openssl ip unshare nsenter findmnt

VERSION=$(sed -n 's/^AC_INIT(\[sandrun\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
T=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-deb.XXXXXX")
R=$T/root
NS=sr-deb-$$
PKGS=(sandrun sandrun-common sandrun-runner sandrun-responder sandrun-redis)
DAEMONS_PID= NSPAWN_PID=

unmount_tree() {
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$T/" | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}
cleanup() {
	[ -z "$DAEMONS_PID" ] || { kill -9 "$DAEMONS_PID" 2>/dev/null; wait "$DAEMONS_PID" 2>/dev/null; }
	[ -z "$NSPAWN_PID" ] || { kill -9 "$NSPAWN_PID" 2>/dev/null; wait "$NSPAWN_PID" 2>/dev/null; }
	ip netns del "$NS" 2>/dev/null
	unmount_tree
	if [ -n "${SANDRUN_TEST_KEEP:-}" ]; then
		echo "# SANDRUN_TEST_KEEP: $T is kept"
	elif findmnt -rn -o TARGET | grep -qF "$T/"; then
		echo "# something is still mounted below $T: left in place"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# in_tree CMD...: CMD in the tree, with a /proc of its own and no network
# (nothing a maintainer script starts can reach or take a port of this host).
in_tree() {
	unshare --mount --pid --net --fork --propagation private --mount-proc="$R/proc" \
		chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
# the same with the host's network (apt's downloads)
in_tree_net() {
	unshare --mount --pid --fork --propagation private --mount-proc="$R/proc" \
		chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
show() { sed 's/^/#   /' "$@" | tail -n 30; }

# ------------------------------------------------------------- build
SRC=$T/src/sandrun-$VERSION
mkdir -p "$SRC"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	# what a clean checkout has, with this tree's uncommitted changes
	(cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
		grep -zEv '^build(-asan)?/|(^|/)node_modules/' | tar --null -T - -cf -) | tar -C "$SRC" -xf -
else
	tar -C "$top_srcdir" --exclude=./build --exclude=./build-asan --exclude=./autom4te.cache -cf - . | tar -C "$SRC" -xf -
fi
# the unit tests ran already (make check); the build is what is tested here,
# on one core (-J1), to leave the other to the test make check runs beside
if (cd "$SRC" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -J1 -us -uc -b) >"$T/build.log" 2>&1; then
	ok 0 "dpkg-buildpackage -us -uc -b builds from a clean copy of the tree"
else
	ok 1 "dpkg-buildpackage -us -uc -b builds from a clean copy of the tree"
	show "$T/build.log"
	done_testing
	exit 1
fi
DEBS=()
for p in "${PKGS[@]}"; do
	f=$(ls "$T"/src/"${p}"_"$VERSION"_*.deb 2>/dev/null | head -n 1)
	ok "$([ -f "$f" ]; echo $?)" "the package $p is built (${f##*/})"
	DEBS+=("$f")
done

lintian --fail-on error "$T"/src/sandrun_"$VERSION"_*.changes >"$T/lintian.log" 2>&1
ok $? "lintian finds no error in the packages" || show "$T/lintian.log"
echo "# lintian: $(grep -c '^W:' "$T/lintian.log") warnings, $(grep -c '^E:' "$T/lintian.log") errors"

contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
has() { # has DEB PATH...
	local deb=$1 p missing=; shift
	local list; list=$(contents "$deb")
	for p in "$@"; do grep -qxF "$p" <<<"$list" || missing+=" $p"; done
	is "${missing:-none}" none "${deb##*/} holds $*"
}
has "${DEBS[2]}" /usr/sbin/sandrun-runner /usr/libexec/sandrun/sandrun-init /usr/libexec/sandrun/sandrun-session-agent \
	/usr/sbin/sandrun-env /lib/systemd/system/sandrun-runner.service /usr/share/man/man8/sandrun-runner.8.gz
has "${DEBS[3]}" /usr/sbin/sandrun-fcgi /usr/sbin/sandrun-ws /usr/bin/sandrun-verify \
	/lib/systemd/system/sandrun-fcgi.service /lib/systemd/system/sandrun-ws.service \
	/etc/nginx/conf.d/sandrun.conf /etc/nginx/snippets/sandrun.conf /usr/share/sandrun/web/index.html
has "${DEBS[4]}" /lib/systemd/system/sandrun-redis.service /usr/share/sandrun/redis/users.acl.in
has "${DEBS[1]}" /usr/libexec/sandrun/make-config /usr/share/man/man5/sandrun.conf.5.gz
has "${DEBS[0]}" /etc/nginx/sites-available/sandrun
unlike "$(contents "${DEBS[3]}")" 'sandrun-runner|sandrun-init' "the responder host's package holds no runner"
unlike "$(contents "${DEBS[2]}")" 'sandrun-fcgi|nginx' "the runner host's package holds no responder"

# ------------------------------------------------------------- install
CACHE_DIR=${SANDRUN_TEST_DEBIAN_CACHE:-$top_builddir/debian-test-cache}
BASE_INCLUDE=python3,systemd-sysv,dbus,redis-server,nginx-light,ssl-cert,adduser,curl,ca-certificates
BASE=$CACHE_DIR/bookworm-$(echo "$BASE_INCLUDE" | md5sum | cut -c1-8).tar
if [ ! -s "$BASE" ]; then
	mkdir -p "$CACHE_DIR"
	echo "# building the Debian 12 base tree with mmdebstrap (kept in $BASE)"
	if mmdebstrap --mode=root --format=tar --variant=apt --include="$BASE_INCLUDE" \
		--aptopt='Acquire::Languages "none"' bookworm "$BASE.tmp" \
		"deb http://deb.debian.org/debian bookworm main" \
		"deb http://deb.debian.org/debian bookworm-updates main" \
		"deb http://deb.debian.org/debian-security bookworm-security main" >"$T/mmdebstrap.log" 2>&1; then
		mv -f "$BASE.tmp" "$BASE"
	else
		rm -f "$BASE.tmp"
		ok 1 "mmdebstrap builds a Debian 12 tree"
		show "$T/mmdebstrap.log"
		done_testing
		exit 1
	fi
fi
mkdir -p "$R"
tar -C "$R" -xf "$BASE"
ok $? "a fresh Debian 12 tree (mmdebstrap, variant apt)"
# No service starts while packages are installed (systemd does not run in
# the tree; this stops the sysvinit scripts too).
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
mkdir -p "$R/tmp/debs"
cp "${DEBS[@]}" "$R/tmp/debs/"
tree_debs=()
for f in "${DEBS[@]}"; do tree_debs+=("/tmp/debs/${f##*/}"); done
# dependencies are downloaded with the network, installed without it
if in_tree_net apt-get update -q >"$T/install.log" 2>&1 &&
	in_tree_net apt-get install -y -q --download-only "${tree_debs[@]}" >>"$T/install.log" 2>&1 &&
	in_tree apt-get install -y -q "${tree_debs[@]}" >>"$T/install.log" 2>&1; then
	ok 0 "apt-get install of the five packages in the tree"
else
	ok 1 "apt-get install of the five packages in the tree"
	show "$T/install.log"
	done_testing
	exit 1
fi
is "$(in_tree dpkg-query -W -f='${db:Status-Status} ' "${PKGS[@]}")" \
	"installed installed installed installed installed " "dpkg says all five are installed"

# the system user
pw=$(in_tree getent passwd sandrun)
like "$pw" '^sandrun:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' "the system user sandrun: no home, no shell ($pw)"
uid=$(cut -d: -f3 <<<"$pw")
ok "$([ -n "$uid" ] && [ "$uid" -lt 1000 ]; echo $?)" "sandrun is a system user (uid $uid)"

# the configuration, with fresh passwords that Redis's ACL file shares
conf=$R/etc/sandrun/sandrun.conf
is "$(in_tree stat -c '%U:%G %a' /etc/sandrun/sandrun.conf)" "root:root 600" "/etc/sandrun/sandrun.conf is root's alone (it holds passwords)"
pass() { sed -n "s/^$1 = //p" "$conf"; }
p_fcgi=$(pass redis_responder_password) p_runner=$(pass redis_runner_password) p_ws=$(pass redis_ws_password)
like "$p_fcgi $p_runner $p_ws" '^[0-9a-f]{64} [0-9a-f]{64} [0-9a-f]{64}$' "three passwords of 256 bits each"
is "$(printf '%s\n' "$p_fcgi" "$p_runner" "$p_ws" | sort -u | wc -l)" 3 "each role has a password of its own"
acl=$R/etc/sandrun/users.acl
is "$(in_tree stat -c '%U:%G %a' /etc/sandrun/users.acl /etc/sandrun/redis.conf | sort -u)" "root:redis 640" \
	"users.acl and redis.conf: root's, readable by Redis's group only"
grep -q "^user sandrun-fcgi on >$p_fcgi " "$acl" && grep -q "^user sandrun-runner on >$p_runner " "$acl" &&
	grep -q "^user sandrun-ws on >$p_ws " "$acl"
ok $? "users.acl gives the ACL users the passwords of sandrun.conf"
p_admin=$(sed -n 's/^user sandrun-admin on >\([0-9a-f]*\) .*/\1/p' "$acl")
like "$p_admin" '^[0-9a-f]{64}$' "the admin user has a fresh password of its own"
unlike "$(cat "$acl")" '@[A-Z_]+@' "no placeholder is left in users.acl"
grep -q "^aclfile /etc/sandrun/users.acl$" "$R/etc/sandrun/redis.conf" && grep -q '^port 6380$' "$R/etc/sandrun/redis.conf"
ok $? "redis.conf: port 6380, the ACL file of /etc/sandrun"
in_tree /usr/sbin/sandrun-fcgi -t -c /etc/sandrun/sandrun.conf >"$T/t.log" 2>&1
ok $? "sandrun-fcgi -t accepts the configuration the package wrote" || show "$T/t.log"

# the units, enabled
for u in sandrun-redis sandrun-runner sandrun-fcgi sandrun-ws; do
	f=$R/lib/systemd/system/$u.service
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$f")
	ok "$([ -x "$R$exe" ]; echo $?)" "$u.service starts $exe, which is installed"
	ok "$([ -L "$R/etc/systemd/system/multi-user.target.wants/$u.service" ]; echo $?)" "$u.service is enabled"
done
unlike "$(cat "$R"/lib/systemd/system/sandrun-*.service)" '/usr/local|@[a-z]+@' "the units name the packages' paths, no placeholder"
ok "$([ "$(readlink "$R/etc/nginx/sites-enabled/sandrun")" = ../sites-available/sandrun ]; echo $?)" \
	"the single machine's site is enabled"
conffiles=$(in_tree dpkg-query -W -f='${Conffiles}\n' sandrun-responder sandrun)
like "$conffiles" '/etc/nginx/conf.d/sandrun.conf' "conf.d/sandrun.conf is a conffile"
like "$conffiles" '/etc/nginx/snippets/sandrun.conf' "snippets/sandrun.conf is a conffile"
like "$conffiles" '/etc/nginx/sites-available/sandrun' "sites-available/sandrun is a conffile"
in_tree nginx -t >"$T/nginx-t.log" 2>&1
ok $? "nginx -t: Debian's nginx.conf with our conf.d part, snippet and site" || show "$T/nginx-t.log"
in_tree man -w sandrun.conf >/dev/null 2>&1 || [ -s "$R/usr/share/man/man5/sandrun.conf.5.gz" ]
ok $? "man sandrun.conf is installed"

# ------------------------------------------------------------- upgrade
# An operator's edit, then an upgrade (the same packages as version +1):
# sandrun.conf, users.acl and redis.conf stay byte for byte.
printf '# an operator was here\nquota_jobs_max = 3\n' >>"$conf"
sums_before=$(cd "$R/etc/sandrun" && sha256sum sandrun.conf users.acl redis.conf)
NEW=$VERSION+t1
mkdir -p "$R/tmp/debs-new"
for f in "${DEBS[@]}"; do
	x=$T/repack
	rm -rf "$x" && dpkg-deb -R "$f" "$x"
	sed -i "s/^Version: .*/Version: $NEW/; /^\(Depends\|Recommends\|Suggests\):/s/(\([>=]*\) $VERSION)/(\1 $NEW)/g" "$x/DEBIAN/control"
	dpkg-deb -b "$x" "$R/tmp/debs-new/" >/dev/null
done
in_tree sh -c 'dpkg -i /tmp/debs-new/*.deb' >"$T/upgrade.log" 2>&1
ok $? "dpkg -i upgrades the five packages to $NEW" || show "$T/upgrade.log"
is "$(in_tree dpkg-query -W -f='${Version}' sandrun-common)" "$NEW" "sandrun-common is at $NEW"
is "$(cd "$R/etc/sandrun" && sha256sum sandrun.conf users.acl redis.conf)" "$sums_before" \
	"the upgrade kept the edited sandrun.conf, users.acl and redis.conf as they were"
unlike "$(cat "$T/upgrade.log")" 'Configuration file' "the upgrade asked about no conffile"

# sandrun-redis installed on a host whose sandrun.conf came first (copied
# from elsewhere): its ACL file takes that file's passwords; a password
# make-config cannot put in an ACL line is refused, and nothing is written.
rm -f "$R/etc/sandrun/users.acl" "$R/etc/sandrun/redis.conf"
in_tree /usr/libexec/sandrun/make-config --redis >"$T/mc.log" 2>&1
ok $? "make-config --redis writes what is missing" || show "$T/mc.log"
grep -q "^user sandrun-fcgi on >$p_fcgi " "$acl" && grep -q "^user sandrun-runner on >$p_runner " "$acl" &&
	grep -q "^user sandrun-ws on >$p_ws " "$acl"
ok $? "... with the passwords of the sandrun.conf that was there"
cp -p "$conf" "$T/conf.saved"
sed -i 's/^redis_ws_password = .*/redis_ws_password = two words/' "$conf"
rm -f "$R/etc/sandrun/users.acl"
out=$(in_tree /usr/libexec/sandrun/make-config --redis 2>&1)
st=$?
ok "$([ "$st" -ne 0 ] && [ ! -e "$R/etc/sandrun/users.acl" ]; echo $?)" "a password with a space: make-config refuses, writes no users.acl ($out)"
cp -p "$T/conf.saved" "$conf"
in_tree /usr/libexec/sandrun/make-config --redis >"$T/mc.log" 2>&1
ok $? "make-config --redis again, with the good file back" || show "$T/mc.log"

# ------------------------------------------------------------- run a job
# The daemons from their installed paths with the units' own command lines
# (ExecStartPre, then ExecStart, as User=, in the RuntimeDirectory= the
# unit names), Redis, runner, responders, gateway and Debian's nginx, in
# a network namespace and a PID namespace of their own.
ip netns add "$NS" && ip -n "$NS" link set lo up
cat >"$T/start-units.sh" <<'EOF'
set -u
R=$1 T=$2
# "/" is a mount point on a real machine (the runner makes it private)
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
start_unit() { # start_unit FILE
	local f=$R$1 u user rd mode line
	u=$(basename "$1" .service)
	user=$(sed -n 's/^User=//p' "$f")
	ids=""   # User=, as the tree's uid:gid
	[ -z "$user" ] || ids=$(chroot "$R" id -u "$user"):$(chroot "$R" id -g "$user")
	mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$f")
	for rd in $(sed -n 's/^RuntimeDirectory=//p' "$f"); do
		mkdir -p -m "${mode:-0755}" "$R/run/$rd"
		chroot "$R" chown "${ids:-0:0}" "/run/$rd"
	done
	while IFS= read -r line; do
		eval "set -- $line"
		chroot ${ids:+--userspec="$ids"} "$R" "$@" >>"$T/$u.log" 2>&1 ||
			{ echo "$u: ExecStartPre $line failed" >>"$T/$u.log"; return 1; }
	done < <(sed -n 's/^ExecStartPre=//p' "$f")
	line=$(sed -n 's/^ExecStart=//p' "$f")
	eval "set -- $line"
	echo "$u: $line" >>"$T/units.log"
	chroot ${ids:+--userspec="$ids"} "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" >>"$T/$u.log" 2>&1 &
}
for u in sandrun-redis sandrun-runner sandrun-fcgi sandrun-ws nginx; do
	start_unit "/lib/systemd/system/$u.service"
	sleep 0.5
done
sleep infinity
EOF
# (nsenter, not ip netns exec, which mounts a /sys of its own, without cgroups)
nsenter --net="/run/netns/$NS" unshare --mount --pid --fork --kill-child --propagation private \
	bash "$T/start-units.sh" "$R" "$T" >"$T/start-units.log" 2>&1 &
DAEMONS_PID=$!

cert=$R/etc/ssl/certs/ssl-cert-snakeoil.pem
CN=$(openssl x509 -noout -subject -nameopt multiline -in "$cert" | sed -n 's/^ *commonName *= *//p')
NET=/run/netns/$NS   # the network namespace the tree's nginx listens in
tcurl() { # curl into the namespace NET, as a client of https://CN:8443
	nsenter --net="$NET" curl -sS --max-time 20 --cacert "$cert" --resolve "$CN:8443:127.0.0.1" "$@"
}
run_hello() { # run_hello LABEL: submits hello.py and checks its run
	local label=$1 id st="" i out
	mkdir -p "$T/job" && printf 'import sys\nprint("hello from", sys.argv[0], "in the package")\n' >"$T/job/hello.py"
	tar -C "$T/job" -czf "$T/job.tar.gz" hello.py
	# a 503 while the runner is still loading its scripts into Redis says
	# when to try again; a client does
	for i in $(seq 1 30); do
		out=$(tcurl -X POST "https://$CN:8443/submit" -F "files=@$T/job.tar.gz" \
			-F 'manifest={"entrypoint":"hello.py","interpreter":"python3"}')
		case $out in *'"retry_after"'*) sleep 1 ;; *) break ;; esac
	done
	id=$(sed -n 's/.*"job_id" *: *"\([^"]*\)".*/\1/p' <<<"$out")
	like "$id" '^job-' "$label: POST /submit through the tree's nginx takes a job ($out)"
	[ -n "$id" ] || return 1
	for i in $(seq 1 60); do
		st=$(tcurl "https://$CN:8443/status/$id" | sed -n 's/.*"status" *: *"\([a-z_]*\)".*/\1/p')
		case $st in completed | failed | cancelled) break ;; esac
		sleep 1
	done
	is "$st" completed "$label: the job completed (run by the installed runner)"
	[ "$st" = completed ] || echo "#   $(tcurl "https://$CN:8443/status/$id")"
	like "$(tcurl "https://$CN:8443/logs/$id")" 'hello from hello.py in the package' "$label: its log holds what it printed"
	# a session: a persistent shell across two commands
	out=$(tcurl -X POST "https://$CN:8443/sessions" -d '{}')
	id=$(sed -n 's/.*"session_id" *: *"\([^"]*\)".*/\1/p' <<<"$out")
	like "$id" '^ses-' "$label: POST /sessions makes a session ($out)"
	[ -n "$id" ] || return 1
	tcurl -X POST "https://$CN:8443/sessions/$id/exec" -d '{"command": "cd /tmp && export X=41"}' >/dev/null
	like "$(tcurl -X POST "https://$CN:8443/sessions/$id/exec" -d '{"command": "echo $((X + 1)) in $PWD"}')" \
		'"stdout" *: *"42 in /tmp' "$label: the session's shell keeps its state between two commands"
	tcurl -X DELETE "https://$CN:8443/sessions/$id" >/dev/null
}

health=""
for _ in $(seq 1 60); do
	health=$(tcurl -o /dev/null -w '%{http_code}' "https://$CN:8443/health" 2>/dev/null)
	[ "$health" = 200 ] && break
	sleep 0.5
done
is "$health" 200 "GET /health through the site the package enabled (https, port 8443, snakeoil)"
run_hello "units' command lines"
like "$(tcurl "https://$CN:8443/metrics")" 'sandrun_jobs_finished_total\{status="completed"' "GET /metrics counts it"
if [ "$tap_failed" -ne 0 ]; then
	for f in "$T"/sandrun-*.log "$T"/nginx.log "$T/start-units.log"; do
		[ -s "$f" ] && { echo "# --- ${f##*/}"; show "$f"; }
	done
	in_tree sh -c 'tail -n 20 /var/log/nginx/error.log' 2>/dev/null | sed 's/^/#   /'
fi
kill -9 "$DAEMONS_PID" 2>/dev/null; wait "$DAEMONS_PID" 2>/dev/null
DAEMONS_PID=
unmount_tree

# ------------------------------------------------------------- systemd-nspawn -b
# Boot the tree: systemd itself starts the enabled units. A network of
# its own (--private-network: nspawn keeps CAP_NET_ADMIN then, which a
# session's sandbox needs to bring its loopback up). On cgroup v1, nspawn
# mounts every controller read-only in the container, where the runner
# could make no job's cgroup: the host's hierarchies are bound in, as a v1
# host gives them to the runner's unit (on v2, nspawn delegates a subtree).
rm -f "$R/usr/sbin/policy-rc.d" "$R/etc/resolv.conf"
leader=""
if command -v systemd-nspawn >/dev/null; then
	cgroup_bind=()
	if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
		cgroup_bind=(--bind=/sys/fs/cgroup)
		echo "# cgroup v1 here: the container gets the host's /sys/fs/cgroup (--bind)"
	fi
	systemd-nspawn -D "$R" -b --register=no --keep-unit --console=passive --private-network \
		"${cgroup_bind[@]}" --machine="sr-deb-$$" >"$T/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
	state=""
	for _ in $(seq 1 90); do
		leader=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1)
		if [ -n "$leader" ]; then
			state=$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)
			case $state in running | degraded) break ;; esac
		fi
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 1
	done
	case $state in
	running | degraded)
		ok 0 "systemd-nspawn -b boots the tree (systemd: $state)"
		NET=/proc/$leader/ns/net
		nsenter --net="$NET" ip link set lo up
		for u in sandrun-redis sandrun-runner sandrun-fcgi sandrun-ws nginx; do
			a=$(nsenter -t "$leader" -a systemctl is-active "$u.service")
			is "$a" active "systemd started $u.service at boot"
			[ "$a" = active ] || nsenter -t "$leader" -a systemctl status --no-pager -l -n 30 "$u.service" 2>&1 | sed 's/^/#   /'
		done
		run_hello "booted with systemd"
		nsenter -t "$leader" -a systemctl --failed --no-legend --plain >"$T/failed" 2>&1
		unlike "$(cat "$T/failed")" 'sandrun' "no sandrun unit failed"
		nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 30); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 1; done
		;;
	*)
		skip "the units under systemd (systemd-nspawn -b)" \
			"systemd-nspawn -b did not boot the tree here (state '${state:-none}'): $(tail -n 3 "$T/nspawn.log" | tr '\n' ' ')"
		;;
	esac
	kill -9 "$NSPAWN_PID" 2>/dev/null; wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
	unmount_tree
else
	skip "the units under systemd (systemd-nspawn -b)" "systemd-nspawn is not installed (Debian: systemd-container)"
fi

# ------------------------------------------------------------- purge
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
mkdir -p "$R/var/lib/sandrun/environments/made-by-sandrun-env"
in_tree apt-get purge -y -q "${PKGS[@]}" >"$T/purge.log" 2>&1
ok $? "apt-get purge of the five packages" || show "$T/purge.log"
is "$(in_tree dpkg-query -W -f='${Package} ${db:Status-Status}\n' 'sandrun*' 2>/dev/null | grep -v ' not-installed$')" "" \
	"dpkg knows none of them any more (not even their configuration files)"
left=$(cd "$R" && ls -d etc/sandrun etc/nginx/conf.d/sandrun.conf etc/nginx/snippets/sandrun.conf \
	etc/nginx/sites-available/sandrun etc/nginx/sites-enabled/sandrun var/lib/sandrun usr/share/sandrun \
	etc/systemd/system/multi-user.target.wants/sandrun-* lib/systemd/system/sandrun-* 2>/dev/null)
is "${left:-nothing}" nothing "purge leaves nothing of ours: configuration, nginx parts, site link, unit links, /var/lib/sandrun"
is "$(in_tree getent passwd sandrun)" "" "purge removes the system user sandrun"
in_tree nginx -t >"$T/nginx-t2.log" 2>&1
ok $? "nginx -t still passes after the purge" || show "$T/nginx-t2.log"

done_testing
