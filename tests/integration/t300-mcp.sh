#!/usr/bin/env bash
# POST /mcp, the Model Context Protocol (SPEC §8, docs/api.md "MCP"),
# through a real stack: the transport with curl (parse error -32700, wrong
# jsonrpc -32600, notifications 202 with no body, GET and DELETE 405 with
# Allow, a foreign Origin 403, Accept and Content-Type, a body over 16 MB
# 413, protocol-version negotiation and the MCP-Protocol-Version header,
# batches for 2025-03-26 clients only, unknown methods and tools); then the
# official TypeScript SDK's client (tests/mcp/mcp-client.mjs: every tool,
# every schema); the MCP Inspector's CLI mode; `sandrun mcp` (the Python
# package's stdio server) spawned by the SDK's stdio client; and abuse: many run_code
# calls at once from one address are 429/503-shaped while another
# address's /health stays fast.
#
# Node and the npm modules (npm ci --prefix tests/mcp) are needed for the
# SDK and Inspector parts; without them those parts are visible skips.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq curl
stack_start --runner-slots 2
cd "$WORK"
V4=${SANDRUN_URL/localhost/127.0.0.1}
URL=$V4/mcp
ALIAS=127.0.0.5          # another client address (loopback alias)
MCP_DIR=$top_srcdir/tests/mcp

ACCEPT='application/json, text/event-stream'    # what the SDK client sends
mcp() { # mcp JSON [CURL-ARGS...]: one POST /mcp with Accept: $ACCEPT
	local body=$1
	shift
	api -X POST -H 'Content-Type: application/json' -H "Accept: $ACCEPT" --data-binary "$body" "$@" "$URL"
}
init_msg() { # init_msg VERSION
	printf '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"%s","capabilities":{},"clientInfo":{"name":"t300","version":"1"}}}' "$1"
}

# --- the transport ---------------------------------------------------------
mcp "$(init_msg 2025-06-18)"
is "$HTTP_STATUS:$(json .result.protocolVersion)" "200:2025-06-18" "initialize 2025-06-18: answered with 2025-06-18"
like "$HTTP_HEADERS" '^mcp-session-id: mcp-[a-z2-7]{26}$' "... with a fresh Mcp-Session-Id"
is "$(json '.result.capabilities.tools.listChanged'):$(json .result.serverInfo.name)" "false:sandrun" \
	"... the tools capability and serverInfo"
like "$HTTP_HEADERS" '^content-type: application/json$' "... as application/json"
for v in 2025-11-25 2025-03-26 2024-11-05; do
	mcp "$(init_msg $v)"
	is "$(json .result.protocolVersion)" "$v" "initialize $v: the same revision back"
done
mcp "$(init_msg 1999-01-01)"
is "$HTTP_STATUS:$(json .result.protocolVersion)" "200:2025-11-25" "initialize with an unknown revision: our latest"
mcp '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'
is "$HTTP_STATUS:$(json .error.code)" "200:-32602" "initialize without protocolVersion: -32602"

mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H 'Mcp-Session-Id: mcp-abc' -H 'MCP-Protocol-Version: 2025-06-18'
is "$HTTP_STATUS:${#BODY}" "202:0" "a notification: 202 with no body"
mcp '{"jsonrpc":"2.0","id":"x","result":{}}'
is "$HTTP_STATUS:${#BODY}" "202:0" "a response from the client: 202 with no body"
mcp '{"jsonrpc":"2.0","id":7,"method":"ping"}' -H 'MCP-Protocol-Version: 2025-06-18'
is "$HTTP_STATUS:$(json '.result | tojson'):$(json .id)" "200:{}:7" "ping: an empty result, the id echoed"
mcp '{"jsonrpc":"2.0","id":"a","method":"resources/list"}'
is "$HTTP_STATUS:$(json .error.code):$(json .id)" "200:-32601:a" "an unknown method: -32601"
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"rm_rf","arguments":{}}}'
is "$(json .error.code)" "-32602" "an unknown tool: -32602"
like "$(json .error.message)" "rm_rf" "... naming it"
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
is "$(json '.result.tools | length')" 10 "tools/list: ten tools"
is "$(json '[.result.tools[] | select(.inputSchema.type == "object")] | length')" 10 "... each with an object input schema"

mcp '{"jsonrpc":"2.0","id":1,"method":'
is "$HTTP_STATUS:$(json .error.code):$(json .id)" "400:-32700:null" "malformed JSON: 400, -32700, id null"
mcp '{"jsonrpc":"1.0","id":1,"method":"ping"}'
is "$HTTP_STATUS:$(json .error.code)" "400:-32600" "jsonrpc 1.0: 400, -32600"
mcp '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}'
is "$HTTP_STATUS:$(json .error.code)" "400:-32600" "an object as id: -32600"
mcp '[1,2]' -H 'MCP-Protocol-Version: 2025-06-18'
is "$HTTP_STATUS:$(json .error.code)" "400:-32600" "a batch under 2025-06-18: -32600"
mcp '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"nope"}]' \
	-H 'MCP-Protocol-Version: 2025-03-26'
is "$HTTP_STATUS:$(json '[.[] | .id] | tojson'):$(json '.[1].error.code')" "200:[1,2]:-32601" \
	"a batch under 2025-03-26: one answer per request, none for the notification"
mcp '[{"jsonrpc":"2.0","method":"notifications/x"}]' -H 'MCP-Protocol-Version: 2025-03-26'
is "$HTTP_STATUS:${#BODY}" "202:0" "a batch of notifications only: 202"
mcp '[]' -H 'MCP-Protocol-Version: 2025-03-26'
is "$HTTP_STATUS:$(json .error.code)" "400:-32600" "an empty batch: -32600"
mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'MCP-Protocol-Version: 2031-01-01'
is "$HTTP_STATUS:$(json .error.code)" "400:-32600" "an unsupported MCP-Protocol-Version header: 400"

api -X GET -H 'Accept: text/event-stream' "$URL"
is "$HTTP_STATUS:$(json .error)" "405:Method not allowed" "GET /mcp (no server stream): 405"
like "$HTTP_HEADERS" '^allow: POST$' "... with Allow: POST"
api -X DELETE -H 'Mcp-Session-Id: mcp-aaaaaaaaaaaaaaaaaaaaaaaaaa' "$URL"
is "$HTTP_STATUS" 405 "DELETE /mcp with a session id (nothing stored to end): 405"

mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Origin: https://evil.example'
is "$HTTP_STATUS:$(json .field)" "403:Origin" "a foreign Origin: 403 naming Origin"
like "$(json .reason)" "evil.example" "... and the origin"
mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Origin: https://127.0.0.1:$SANDRUN_HTTPS_PORT"
is "$HTTP_STATUS" 200 "this service's own Origin: accepted"
mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H 'Origin: null'
is "$HTTP_STATUS" 403 "Origin null (a sandboxed page): 403"
ACCEPT='text/html' mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}'
is "$HTTP_STATUS:$(json .field)" "406:Accept" "Accept without application/json: 406"
ACCEPT='*/*' mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}'
is "$HTTP_STATUS" 200 "Accept: */* (curl's) is fine"
ACCEPT='application/json' mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}'
is "$HTTP_STATUS" 200 "Accept: application/json alone is fine (JSON is all we answer)"
api -X POST -H 'Content-Type: text/plain' --data-binary '{}' "$URL"
is "$HTTP_STATUS:$(json .field)" "415:Content-Type" "Content-Type text/plain: 415"
mcp '{"jsonrpc":"2.0","id":1,"method":"ping"}' -H "Mcp-Session-Id: $(printf 'x%.0s' $(seq 200))"
is "$HTTP_STATUS:$(json .field)" "400:Mcp-Session-Id" "an Mcp-Session-Id of 200 characters: 400"
head -c $((16 * 1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
api -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" "$URL"
is "$HTTP_STATUS:$(json .error)" "413:Payload too large" "a body over 16 MB: 413"

# The responder's own bound, behind nginx's: a FastCGI request straight to the pool.
if command -v cgi-fcgi >/dev/null; then
	answer=$(head -c 17000000 /dev/zero | env -i REQUEST_METHOD=POST DOCUMENT_URI=/mcp SCRIPT_NAME=/mcp QUERY_STRING= \
		CONTENT_TYPE=application/json CONTENT_LENGTH=17000000 REMOTE_ADDR=127.0.0.1 \
		cgi-fcgi -bind -connect "127.0.0.1:${SANDRUN_FCGI_PORTS%% *}" 2>/dev/null | tr -d '\r')
	like "$answer" '^Status: 413' "the responder refuses a body over 16 MB itself (413)"
else
	skip "the responder refuses a body over 16 MB itself" "cgi-fcgi (libfcgi-bin) is not installed"
fi

# A tool call through curl: arguments the schema refuses are a result, not an error.
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"print(1)","timeout":"soon"}}}'
is "$HTTP_STATUS:$(json .result.isError):$(json .result.structuredContent.field)" "200:true:timeout" \
	"tools/call with a bad argument: isError naming timeout"
mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"print(6*7)","timeout":30}}}'
is "$(json .result.structuredContent.stdout):$(json .result.structuredContent.exit_code)" "42:0" \
	"tools/call run_code over curl: stdout and exit code"

# --- the official SDK client and the Inspector ---------------------------------
# relay_tap RC NAME PREFIX N WHAT: a node test's TAP lines ($WORK/NAME.tap)
# become ours, one each (PREFIX before their names), its comments pass
# through; then one check that it exited 0 after N passing lines, and its
# stderr ($WORK/NAME.err) when it did not.
relay_tap() {
	local rc=$1 tap=$WORK/$2.tap err=$WORK/$2.err prefix=$3 line
	while IFS= read -r line; do
		case $line in
		"ok "*) ok 0 "$prefix${line#ok * - }" ;;
		"not ok "*) ok 1 "$prefix${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$tap"
	is "$rc:$(grep -c '^ok ' "$tap")" "0:$4" "$5"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$err" | tail -n 20
}
if ! command -v node >/dev/null; then
	skip "the MCP TypeScript SDK client (tests/mcp/mcp-client.mjs)" "node is not installed"
	skip "the MCP Inspector CLI" "node is not installed"
elif [ ! -d "$MCP_DIR/node_modules/@modelcontextprotocol/sdk" ]; then
	skip "the MCP TypeScript SDK client (tests/mcp/mcp-client.mjs)" "no npm modules: npm ci --prefix tests/mcp"
	skip "the MCP Inspector CLI" "no npm modules: npm ci --prefix tests/mcp"
else
	NODE_EXTRA_CA_CERTS=$SANDRUN_CACERT timeout 300 node "$MCP_DIR/mcp-client.mjs" "$SANDRUN_URL" \
		>"$WORK/sdk.tap" 2>"$WORK/sdk.err"
	relay_tap $? sdk "SDK: " 45 "the SDK client ran all its 45 checks and passed"

	inspector=$MCP_DIR/node_modules/.bin/mcp-inspector
	if [ -x "$inspector" ]; then
		out=$(NODE_EXTRA_CA_CERTS=$SANDRUN_CACERT timeout 120 "$inspector" --cli "$SANDRUN_URL/mcp" \
			--transport http --method tools/list 2>&1)
		is "$(json '.tools | length' "$out")" 10 "MCP Inspector --cli tools/list: ten tools"
		out=$(NODE_EXTRA_CA_CERTS=$SANDRUN_CACERT timeout 120 "$inspector" --cli "$SANDRUN_URL/mcp" \
			--transport http --method tools/call --tool-name run_code --tool-arg 'code=print(7*6)' 2>&1)
		is "$(json '.structuredContent.stdout' "$out"):$(json .isError "$out")" "42:false" \
			"MCP Inspector --cli tools/call run_code: 42"
	else
		skip "the MCP Inspector CLI" "tests/mcp/node_modules/.bin/mcp-inspector is missing"
	fi

	# `sandrun mcp`, the stdio server of clients/python, spawned by the SDK's
	# StdioClientTransport as a desktop agent does.
	SANDRUN_URL=$SANDRUN_URL SANDRUN_CACERT=$SANDRUN_CACERT timeout 300 node "$MCP_DIR/mcp-stdio.mjs" \
		/usr/bin/python3 "$top_srcdir/clients/python" >"$WORK/stdio.tap" 2>"$WORK/stdio.err"
	relay_tap $? stdio "" 10 "sandrun mcp over stdio: all 10 checks ran and passed"
fi

# --- abuse: many run_code calls at once from one address -----------------------
# 16 calls of a 6 s program from 127.0.0.1, all open at once. nginx lets one
# address hold 8 requests (HOLD_PER_ADDRESS: a POST /mcp counts as held):
# the rest are its 429; of the 8, what the quotas (jobs at once per
# address) refuse is an isError with the route's 429 and retry_after. None
# hangs, none is a 5xx other than the responders' own 503 (held-request
# cap), and another address's /health answers fast meanwhile.
slow='{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"run_code","arguments":{"code":"import time\ntime.sleep(6)\nprint(\"done\")","timeout":20}}}'
for i in $(seq 16); do
	curl -sS -o "$WORK/abuse.$i.body" -w '%{http_code}\n' --max-time 60 --cacert "$SANDRUN_CACERT" \
		--interface 127.0.0.1 -X POST -H 'Content-Type: application/json' --data-binary "$slow" "$URL" \
		>"$WORK/abuse.$i.code" 2>/dev/null &
done
sleep 1.5
slowest=0
for i in $(seq 5); do
	t=$(curl -sS -o /dev/null --max-time 10 --cacert "$SANDRUN_CACERT" --interface "$ALIAS" \
		-w '%{http_code} %{time_total}' "$V4/health" | awk '{printf "%s %d", $1, $2 * 1000}')
	[ "${t% *}" = 200 ] || slowest=99999
	[ "${t#* }" -gt "$slowest" ] && slowest=${t#* }
	sleep 0.2
done
ok "$([ "$slowest" -lt 2000 ] && echo 0 || echo 1)" "while 16 run_code calls hold from one address, $ALIAS's /health answers 200 (slowest ${slowest} ms)"
wait
refused=0 ran=0 other=0
for i in $(seq 16); do
	code=$(cat "$WORK/abuse.$i.code")
	b=$(cat "$WORK/abuse.$i.body")
	st=$(json '.result.structuredContent.http_status // empty' "$b")
	if [ "$code" = 429 ] || [ "$code" = 503 ] || [ "$st" = 429 ] || [ "$st" = 503 ]; then
		refused=$((refused + 1))
	elif [ "$code" = 200 ] && [ "$(json .result.structuredContent.stdout "$b")" = done ]; then
		ran=$((ran + 1))
	else
		other=$((other + 1))
		echo "# other answer: $code $(head -c 300 <<<"$b")"
	fi
done
ok "$([ "$refused" -ge 8 ] && [ "$other" -eq 0 ] && echo 0 || echo 1)" \
	"16 run_code calls from one address: $ran ran, $refused refused with 429/503, $other otherwise"
ok "$([ "$ran" -ge 1 ] && echo 0 || echo 1)" "... and the ones let in ran to the end"
b=$(cat "$WORK"/abuse.*.body | grep -m1 '"http_status":429' || true)
if [ -n "$b" ]; then
	like "$(json .result.structuredContent.retry_after "$b")" '^[1-9][0-9]*$' "... a quota refusal carries retry_after"
else
	skip "... a quota refusal carries retry_after" "every refusal this time was nginx's or the hold cap's"
fi

# POST /mcp counts among nginx's held requests and requests with a body of
# its address (the $sandrun_hold_key and $sandrun_body_addr maps), as POST
# /submit?wait does: 12 job_status waits at once on one running job from
# one address; 4 are let through (the body cap, the lower of the two),
# the others are nginx's 429.
mcp '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"submit_job","arguments":{"files":{"s.py":"import time\ntime.sleep(8)"},"entrypoint":"s.py","timeout":30}}}' \
	--interface "$ALIAS"
jid=$(json .result.structuredContent.job_id)
like "$jid" '^job-' "a job to wait on (from $ALIAS)"
for i in $(seq 12); do
	curl -sS -o "$WORK/hold.$i.body" -w '%{http_code}\n' --max-time 60 --cacert "$SANDRUN_CACERT" \
		--interface 127.0.0.1 -X POST -H 'Content-Type: application/json' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"job_status\",\"arguments\":{\"job_id\":\"$jid\",\"wait\":30}}}" \
		"$URL" >"$WORK/hold.$i.code" 2>/dev/null &
done
wait
held=$(cat "$WORK"/hold.*.code | grep -c '^200$')
capped=$(cat "$WORK"/hold.*.code | grep -c '^429$')
is "$held:$capped" "4:8" "12 waiting job_status calls from one address: 4 held, 8 refused by nginx (429)"
is "$(cat "$WORK"/hold.*.body | jq -r 'select(.result) | .result.structuredContent.status' | sort -u)" completed \
	"... the 4 held were answered when the job completed"

# And the hold cap counts them with the address's other held requests: 6
# GET /status?wait plus 4 waiting job_status calls from one address make
# 10 where 8 may be held (the status waits go first; 2 MCP calls are refused).
mcp '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"submit_job","arguments":{"files":{"s.py":"import time\ntime.sleep(8)"},"entrypoint":"s.py","timeout":30}}}' \
	--interface "$ALIAS"
jid=$(json .result.structuredContent.job_id)
for i in $(seq 6); do
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 60 --cacert "$SANDRUN_CACERT" --interface 127.0.0.1 \
		"$V4/status/$jid?wait=30" >"$WORK/both.status.$i" 2>/dev/null &
done
sleep 1
for i in $(seq 4); do
	curl -sS -o /dev/null -w '%{http_code}\n' --max-time 60 --cacert "$SANDRUN_CACERT" \
		--interface 127.0.0.1 -X POST -H 'Content-Type: application/json' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"job_status\",\"arguments\":{\"job_id\":\"$jid\",\"wait\":30}}}" \
		"$URL" >"$WORK/both.mcp.$i" 2>/dev/null &
done
wait
is "$(cat "$WORK"/both.status.* | sort | uniq -c | awk '{print $1 "x" $2}' | paste -sd ' ')" "6x200" \
	"6 status waits from one address: all held"
is "$(cat "$WORK"/both.mcp.* | sort | uniq -c | awk '{print $1 "x" $2}' | paste -sd ' ')" "2x200 2x429" \
	"... then 4 POST /mcp from it: 2 fit under the hold cap of 8, 2 are nginx's 429"

done_testing
