#!/usr/bin/env bash
# The playground page (web/, issue 13) through a real stack: nginx serves it
# at GET / to browsers (and keeps JSON for API clients) and its files under
# /ui/ with a strict Content-Security-Policy; then headless Chromium (the
# system's /usr/bin/chromium) driven by puppeteer-core (tests/web/
# playground.mjs, npm ci --prefix tests/web) uses it as a person would: a
# Python job whose output appears while it runs, the matplotlib example in
# ml-basic drawing its image (when SANDRUN_TEST_ENVIRONMENTS_DIR has it), a
# text output previewed, a 429 counting down, the quota box, a session with
# its file tree (upload, download, delete), pause, resume and snapshot, the
# terminal (when the stack runs the WebSocket gateway), a phone-sized
# screen, and no request to another origin. Each step's screenshot is kept
# in $top_builddir/tests/integration/t340-playground.shots/.
. "$top_srcdir/tests/integration/lib.sh"
require_root
require_cmd jq curl openssl
WEB_TESTS=$top_srcdir/tests/web
SHOTS=${T340_SHOTS:-$top_builddir/tests/integration/t340-playground.shots}
CHROMIUM=${PLAYGROUND_CHROMIUM:-/usr/bin/chromium}

keydir=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-key.XXXXXX")
"$top_builddir/sandrun-runner" --generate-key "$keydir/worker.pem" >/dev/null || {
	echo "Bail out! sandrun-runner --generate-key failed"; exit 1; }
ENVS=${SANDRUN_TEST_ENVIRONMENTS_DIR:-}
env_args=()
[ -n "$ENVS" ] && [ -f "$ENVS/ml-basic/environment.json" ] && env_args=(--set "environments_dir=$ENVS")
# CPU quota: enough for the whole visit (matplotlib takes a few seconds);
# the 429 the page shows is the jobs-at-once one (2, the default).
stack_start --set "worker_key=$keydir/worker.pem" --set quota_cpu_seconds=600 "${env_args[@]}"
trap 'stack_stop; rm -rf "$keydir"' EXIT
cd "$WORK"

# --- nginx: the page for browsers, JSON for the rest ---------------------
BROWSER_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
api -H "Accept: $BROWSER_ACCEPT" "$SANDRUN_URL/"
like "$HTTP_STATUS:$(grep -i '^content-type:' <<<"$HTTP_HEADERS")" '^200:content-type: text/html' \
	"GET / with a browser's Accept: the page (text/html)"
like "$BODY" '<title>Sandrun playground</title>' "... the playground's index.html"
page_csp=$(grep -i '^content-security-policy:' <<<"$HTTP_HEADERS")
like "$page_csp" "default-src 'self'; script-src 'self';" "... with a CSP: scripts from this origin only"
like "$page_csp" "connect-src 'self';.*frame-ancestors 'none'" "... requests to this origin only, no framing"
unlike "$page_csp" "script-src[^;]*(unsafe|\\*|https?:)" "... no unsafe-inline or unsafe-eval script, no other host"
like "$HTTP_HEADERS" '^vary: Accept' "... and Vary: Accept"
unlike "$BODY" '(src|href)="(https?:)?//' "the page names no other origin (no CDN, no web font)"
unlike "$BODY" '<script>|<script [^>]*>[^<]' "... and has no inline script"

for accept in 'application/json' '*/*' ''; do
	api ${accept:+-H "Accept: $accept"} "$SANDRUN_URL/"
	is "$HTTP_STATUS:$(json .service)" "200:sandrun" "GET / with Accept '${accept:-(none)}': still the service's JSON"
done
like "$HTTP_HEADERS" '^vary: Accept' "... which says it varies with Accept"
like "$HTTP_HEADERS" "^content-security-policy: default-src 'none'" "... and keeps the API's CSP (default-src 'none')"
api -H 'Accept: application/json, text/html;q=0.5' "$SANDRUN_URL/"
is "$(json .service)" sandrun "an Accept that prefers JSON over HTML: JSON"

api "$SANDRUN_URL/ui/app.js"
like "$HTTP_STATUS:$(grep -i '^content-type:' <<<"$HTTP_HEADERS")" '^200:content-type: text/javascript' "/ui/app.js: JavaScript"
like "$HTTP_HEADERS" '^cache-control: no-cache' "... revalidated each time (the page's own files)"
api "$SANDRUN_URL/ui/vendor/xterm/xterm.js"
is "$HTTP_STATUS" 200 "the vendored xterm.js is served"
like "$HTTP_HEADERS" '^cache-control: public, max-age=86400' "... and may be cached a day"
api "$SANDRUN_URL/ui/vendor/codemirror/LICENSE"
is "$HTTP_STATUS" 200 "the vendored libraries' licenses are there"
api "$SANDRUN_URL/ui/nope.js"
is "$HTTP_STATUS:$(json .error)" "404:Not found" "a missing file under /ui/: the API's JSON 404"
api -X POST -d x "$SANDRUN_URL/ui/index.html"
is "$HTTP_STATUS" 405 "POST to a page file: 405"
api "$SANDRUN_URL/ui/../health"
is "$HTTP_STATUS" 200 "/ui/../health is /health (nginx resolves it; no file outside web/ is served)"
api --path-as-is "$SANDRUN_URL/ui/..%2f..%2fetc/passwd"
unlike "$BODY" 'root:' "no climbing out of web/ with an encoded .."

# --- the browser ----------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
	skip "the playground in headless Chromium" "$CHROMIUM is not installed (Debian package chromium)"
	done_testing
	exit
fi
if ! command -v node >/dev/null; then
	skip "the playground in headless Chromium" "node is not installed"
	done_testing
	exit
fi
if [ ! -d "$WEB_TESTS/node_modules/puppeteer-core" ]; then
	skip "the playground in headless Chromium" "no npm modules: npm ci --prefix tests/web"
	done_testing
	exit
fi

export PLAYGROUND_CHROMIUM=$CHROMIUM
# Chromium trusts the stack's server key (its CA is the stack's own).
PLAYGROUND_SPKI=$(openssl x509 -in "$SANDRUN_DIR/server.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
export PLAYGROUND_SPKI PLAYGROUND_SIGNED=1
api "$SANDRUN_URL/environments"
if [ "$(json '[.environments[].name] | index("ml-basic") != null')" = true ]; then
	export PLAYGROUND_ML=1
else
	export PLAYGROUND_ML=0 PLAYGROUND_ML_WHY="ml-basic not built (SANDRUN_TEST_ENVIRONMENTS_DIR unset; contrib/quickstart check builds it)"
fi
# The terminal needs the WebSocket gateway (sandrun-ws) in the stack.
if [ -n "${SANDRUN_PID_WS:-}" ]; then
	export PLAYGROUND_PTY=1
else
	export PLAYGROUND_PTY=0 PLAYGROUND_PTY_WHY="this stack runs no WebSocket gateway (no sandrun-ws in $top_builddir)"
fi

rm -rf "$SHOTS"
mkdir -p "$SHOTS"
echo "# screenshots: $SHOTS"
NODE_EXTRA_CA_CERTS=$SANDRUN_CACERT HOME=$WORK timeout 600 node "$WEB_TESTS/playground.mjs" "$SANDRUN_URL" "$SHOTS" \
	>"$WORK/browser.tap" 2>"$WORK/browser.err"
rc=$?
while IFS= read -r line; do
	case $line in
	"ok "*"# SKIP "*) name=${line#ok * - }; skip "browser: ${name% \# SKIP *}" "${name##* \# SKIP }" ;;
	"ok "*) ok 0 "browser: ${line#ok * - }" ;;
	"not ok "*) ok 1 "browser: ${line#not ok * - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$WORK/browser.tap"
ok "$rc" "the browser run ended well (exit $rc)" || sed 's/^/#   /' "$WORK/browser.err" | tail -n 20

done_testing
