#!/usr/bin/env bash
# nginx's per-address limits (requests, connections, held requests,
# uploads, archive builds) count a client as the responders' quotas do: an
# IPv4 address, or an IPv6 /64. With per-/128 keys, one host's /64 would be
# 2^64 clients to nginx. The map that makes the key ($sandrun_client, in
# nginx/sandrun-http.conf.in between its BEGIN and END lines) is run here on an
# nginx of its own that takes the client's address from a test header
# (realip), so any IPv6 address can be tried from loopback.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd nginx curl
D=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
NGINX_PID=
cleanup() {
	[ -z "$NGINX_PID" ] || kill "$NGINX_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$D/tmp"
{
	echo "worker_processes 1; pid $D/nginx.pid; error_log $D/error.log warn;"
	echo "events { worker_connections 64; }"
	echo "http {"
	echo "  access_log off; client_body_temp_path $D/tmp; fastcgi_temp_path $D/tmp; proxy_temp_path $D/tmp;"
	echo "  scgi_temp_path $D/tmp; uwsgi_temp_path $D/tmp;"
	sed -n '/# BEGIN sandrun_client/,/# END sandrun_client/p' "$top_srcdir/nginx/sandrun-http.conf.in"
	echo "  server { listen 127.0.0.1:$PORT; set_real_ip_from 127.0.0.1; real_ip_header X-Test-Client;"
	echo "    location / { default_type text/plain; return 200 \"\$remote_addr \$sandrun_client\\n\"; } }"
	echo "}"
} >"$D/nginx.conf"
grep -q 'map $remote_addr $sandrun_client' "$D/nginx.conf" || { echo "Bail out! no sandrun_client map in the template"; exit 1; }
nginx -p "$D" -c "$D/nginx.conf" -g 'daemon off;' >"$D/nginx.out" 2>&1 &
NGINX_PID=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done

key() { curl -s -H "X-Test-Client: $1" "http://127.0.0.1:$PORT/" | cut -d' ' -f2; }
canon() { curl -s -H "X-Test-Client: $1" "http://127.0.0.1:$PORT/" | cut -d' ' -f1; }

# address as sent, the /64 (or IPv4 address) it must count as
while read -r addr want; do
	is "$(key "$addr")" "$want" "$addr ($(canon "$addr")) counts as $want"
done <<'EOF'
192.0.2.7 192.0.2.7
127.0.3.99 127.0.3.99
2001:db8:1:2:3:4:5:6 2001:db8:1:2
2001:DB8:1:2:3:4:5:FFFF 2001:db8:1:2
2001:db8:1:2::5 2001:db8:1:2
2001:db8:1:2:: 2001:db8:1:2
2001:db8::1 2001:db8:0:0
2001:db8:0:0:1:0:0:0 2001:db8:0:0
2001:db8:0:0:1:2:3:4 2001:db8:0:0
2001:db8:0:1:0:0:0:1 2001:db8:0:1
2001:db8:1:0:0:0:0:1 2001:db8:1:0
2001:0db8:0001:0000:0000:0000:0000:0001 2001:db8:1:0
::1 0:0:0:0
0:0:1:2:3:4:5:6 0:0:1:2
0:0:0:1:2:3:4:5 0:0:0:1
5:0:0:1:2:3:4:5 5:0:0:1
fe80::1:2:3:4 fe80:0:0:0
a:b:c::1 a:b:c:0
EOF
# Every address of one /64 is one client; the next /64 is another.
ok "$([ "$(key 2001:db8:7:7::1)" = "$(key 2001:db8:7:7:ffff:ffff:ffff:ffff)" ]; echo $?)" \
	"two addresses of one /64 are one client"
ok "$([ "$(key 2001:db8:7:7::1)" != "$(key 2001:db8:7:8::1)" ]; echo $?)" "the next /64 is another client"

done_testing
