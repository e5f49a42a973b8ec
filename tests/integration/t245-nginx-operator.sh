#!/usr/bin/env bash
# Behind an nginx the operator already runs: their own nginx.conf, written
# as an operator writes one, with their own server block (their listen,
# their certificate from their own CA, their server name) that includes
# Sandrun's server-level part (nginx/sandrun-server.conf.in, Debian's
# /etc/nginx/snippets/sandrun.conf) at the root, and Sandrun's http-level
# part (nginx/sandrun-http.conf.in, /etc/nginx/conf.d/sandrun.conf) in
# their http block. Every route of the API is served through it, errors
# keep the API's JSON shape, and the parts hold no server-level setting
# that would clash with the operator's own (listen, certificate, name).
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq curl openssl nginx
stack_start
OP=$STACK_DIR/operator
mkdir -p "$OP/conf.d" "$OP/snippets" "$OP/tls"
HTTP_PART=$STACK_DIR/nginx-sandrun-http.conf SERVER_PART=$STACK_DIR/nginx-sandrun-server.conf

# --- the parts are made for including
unlike "$(grep -vE '^\s*#' "$SERVER_PART")" '^\s*(listen|server_name|ssl_certificate|server \{|http \{)' \
	"the server-level part has no listen, server_name, certificate, server or http block"
unlike "$(grep -vE '^\s*#' "$HTTP_PART")" '^\s*(listen|server \{|http \{|location)' \
	"the http-level part has no server, http block or location"
like "$(grep -E '^\s*include ' "$STACK_DIR/nginx.conf")" "include $HTTP_PART;" \
	"... and the stack's own nginx.conf is built the same way: it includes both parts"

# --- the parts make install puts in place, filled in with sandrun.conf's defaults
make -s -C "$top_builddir" nginx/sandrun-http.conf nginx/sandrun-server.conf >/dev/null 2>&1
for f in http server; do
	installed=$top_builddir/nginx/sandrun-$f.conf
	ok "$([ -s "$installed" ] && ! grep -qE '@[A-Z_]+@' "$installed"; echo $?)" \
		"make builds nginx/sandrun-$f.conf for make install, every placeholder filled in"
done
like "$(grep -A1 'upstream sandrun_fcgi {' "$top_builddir/nginx/sandrun-http.conf")" 'server unix:/run/sandrun-fcgi/fcgi.sock' \
	"... its upstream is the responders' socket of the systemd units (contrib/systemd)"
T=$STACK_DIR/installed-check
mkdir -p "$T"
sed "s|/run/sandrun-nginx-body|$T/body|; s|/var/lib/nginx|$T|; s|/var/log/nginx|$T|" \
	"$top_builddir/nginx/sandrun-server.conf" >"$T/server.conf"
printf 'pid %s/pid; error_log %s/err warn; events {}\nhttp { include %s;\n server { listen 127.0.0.1:1; server_name x; include %s; } }\n' \
	"$T" "$T" "$top_builddir/nginx/sandrun-http.conf" "$T/server.conf" >"$T/nginx.conf"
is "$(nginx -t -q -p "$T" -c "$T/nginx.conf" 2>&1)" "" "nginx -t accepts them in a server block (their paths moved into the test's dir)"

# --- the operator's nginx: their CA, their name, their port, their files
NAME=api.sandrun.test
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Operator CA" \
	-keyout "$OP/tls/ca.key" -out "$OP/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$NAME" \
	-keyout "$OP/tls/$NAME.key" -out "$OP/tls/$NAME.csr" 2>/dev/null
openssl x509 -req -in "$OP/tls/$NAME.csr" -CA "$OP/tls/ca.pem" -CAkey "$OP/tls/ca.key" -CAcreateserial -days 2 \
	-extfile <(printf 'subjectAltName=DNS:%s,DNS:www.sandrun.test\n' "$NAME") -out "$OP/tls/$NAME.pem" 2>/dev/null
cp "$HTTP_PART" "$OP/conf.d/sandrun.conf"
cp "$SERVER_PART" "$OP/snippets/sandrun.conf"
user_line=
[ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1 && user_line="user www-data;"
chmod 0755 "$OP" "$OP/conf.d" "$OP/snippets"
cat >"$OP/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $OP/nginx.pid;
error_log $OP/error.log warn;
events { worker_connections 1024; }
http {
    include $OP/conf.d/sandrun.conf;
    # the operator's own site, beside the API
    server {
        listen 127.0.0.1:$PORT ssl;
        server_name www.sandrun.test;
        ssl_certificate $OP/tls/$NAME.pem;
        ssl_certificate_key $OP/tls/$NAME.key;
        location / { default_type text/plain; return 200 "the operator's own site\n"; }
    }
    server {
        listen 127.0.0.1:$PORT ssl http2;
        server_name $NAME;
        ssl_certificate $OP/tls/$NAME.pem;
        ssl_certificate_key $OP/tls/$NAME.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        include $OP/snippets/sandrun.conf;
    }
}
EOF
out=$(nginx -t -q -p "$OP" -c "$OP/nginx.conf" 2>&1)
is "$out" "" "nginx -t accepts the operator's nginx.conf with both parts included"
nginx -p "$OP" -c "$OP/nginx.conf" -g 'daemon off;' >"$OP/nginx.out" 2>&1 &
OP_NGINX=$!
trap 'kill $OP_NGINX 2>/dev/null; wait $OP_NGINX 2>/dev/null; stack_stop' EXIT
for _ in $(seq 50); do curl -sk --resolve "$NAME:$PORT:127.0.0.1" "https://$NAME:$PORT/health" >/dev/null && break; sleep 0.1; done

# From here every request of this test (api, wait_job, logs: curl) goes to
# the operator's server by its name, checked against the operator's CA.
export CURL_HOME=$OP
printf 'resolve = "%s:%s:127.0.0.1"\nresolve = "www.sandrun.test:%s:127.0.0.1"\n' "$NAME" "$PORT" "$PORT" >"$OP/.curlrc"
SANDRUN_URL=https://$NAME:$PORT SANDRUN_CACERT=$OP/tls/ca.pem
cd "$WORK"

# --- the whole API through it
api "$SANDRUN_URL/health"
is "$HTTP_STATUS:$(json .status)" "200:ok" "GET /health through the operator's server, over their TLS and name"
api "$SANDRUN_URL/"
is "$HTTP_STATUS" 200 "GET / (the service's JSON)"
api -H 'Accept: text/html' "$SANDRUN_URL/"
like "$HTTP_STATUS:$(printf '%s' "$BODY" | head -c 15 | tr 'A-Z' 'a-z')" '^200:<!doctype html' "GET / from a browser: the playground page"
for r in /environments /stats /workers; do
	api "$SANDRUN_URL$r"
	is "$HTTP_STATUS:$(json 'type')" "200:object" "GET $r"
done
mkdir -p job && printf 'echo hello from the operator\necho out > result.txt\n' >job/main.sh
run_job job '{"entrypoint":"main.sh","interpreter":"sh","outputs":["result.txt"]}'
is "$(json .status "$STATUS_JSON")" completed "POST /submit and GET /status: the job completed"
is "$(logs "$JOB_ID")" "hello from the operator" "GET /logs/{id}"
api "$SANDRUN_URL/logs/$JOB_ID/stream"
like "$HTTP_STATUS:$(printf '%s' "$BODY" | tr '\n' ' ')" '^200:.*hello from the operator' "GET /logs/{id}/stream (Server-Sent Events)"
api "$SANDRUN_URL/outputs/$JOB_ID"
like "$HTTP_STATUS:$BODY" '^200:.*result.txt' "GET /outputs/{id}"
api "$SANDRUN_URL/download/$JOB_ID/result.txt"
is "$HTTP_STATUS:$BODY" "200:out" "GET /download/{id}/{path} (its only output: the job is deleted with it)"
mkdir -p sleeper && printf 'sleep 30\n' >sleeper/main.sh
submit_tar sleeper '{"entrypoint":"main.sh","interpreter":"sh"}'
api -X DELETE "$SANDRUN_URL/jobs/$(json .job_id)"
is "$HTTP_STATUS:$(json .status)" "200:cancelled" "DELETE /jobs/{id}"
api -X POST -H 'Content-Type: application/json' --data-binary '{}' "$SANDRUN_URL/sessions"
is "$HTTP_STATUS" 201 "POST /sessions"
S=$(json .session_id)
api -X PUT --data-binary 'from a file' "$SANDRUN_URL/sessions/$S/files/note.txt"
like "$HTTP_STATUS" '^20[01]$' "PUT /sessions/{id}/files/{path}"
api -X POST -H 'Content-Type: application/json' --data-binary '{"command": "cat note.txt"}' "$SANDRUN_URL/sessions/$S/exec"
is "$HTTP_STATUS:$(json .stdout)" "200:from a file" "POST /sessions/{id}/exec"
api -X DELETE "$SANDRUN_URL/sessions/$S"
like "$HTTP_STATUS" '^20[04]$' "DELETE /sessions/{id}"
api -X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	--data-binary '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t245","version":"1"}}}' \
	"$SANDRUN_URL/mcp"
is "$HTTP_STATUS:$(json .result.protocolVersion)" "200:2025-06-18" "POST /mcp (initialize)"
api "$SANDRUN_URL/metrics"
like "$HTTP_STATUS:$BODY" '^200:.*sandrun_' "GET /metrics from this machine"

# --- errors keep the API's shape
api "$SANDRUN_URL/no-such-route"
is "$HTTP_STATUS:$(json .error)" "404:Not found" "an unknown route: our JSON 404"
api --path-as-is "$SANDRUN_URL/../../etc/passwd"
is "$HTTP_STATUS:$(json .error)" "400:Bad request" "GET /../../etc/passwd: our JSON 400, not nginx's HTML"
api -X PATCH "$SANDRUN_URL/submit"
like "$HTTP_STATUS:$(json .error)" '^40[45]:' "an unsupported method: a JSON 4xx ($HTTP_STATUS)"
like "$(tr -d '\r' <"$STACK_DIR/last.headers" | grep -i '^content-type')" 'application/json' "... as application/json"

# --- the operator's own site beside it is untouched
is "$(curl -sS --cacert "$OP/tls/ca.pem" "https://www.sandrun.test:$PORT/")" "the operator's own site" \
	"the operator's other server block still serves its own site"
unlike "$(cat "$OP/error.log" 2>/dev/null)" '\[(emerg|alert|crit)\]' "the operator's nginx logged no critical error"
done_testing
