#!/usr/bin/env bash
# Manifest requirements installed inside the sandbox, before the entrypoint,
# with no network: requirements.txt (pip), package.json (npm) and Gemfile
# (bundler) take packages only from the operator's mirror
# (requirements_mirror_dir, bound read-only at /mirror). The packages here
# are ones the test makes itself, filed with contrib/sandrun-mirror as an
# operator would (docs/mirror.md). A kind whose tools are missing is skipped,
# with the reason, not the whole file.
. "$top_srcdir/tests/integration/lib.sh"
require_cmd jq tar

# skip COUNT REASON : COUNT checks that cannot run here, each a visible TAP skip
skip() {
	local i
	for ((i = 0; i < $1; i++)); do
		tap_n=$((tap_n + 1))
		echo "ok $tap_n # SKIP $2"
	done
}

MIRROR=$(mktemp -d "${TMPDIR:-/tmp}/sandrun-mirror.XXXXXX")
BUILD=$MIRROR.build
trap 'rm -rf "$MIRROR" "$BUILD"' EXIT
mkdir -p "$BUILD"
chmod 755 "$MIRROR"
add_to_mirror() { # KIND FILE...: as an operator does; its output only if it fails
	"$top_srcdir/contrib/sandrun-mirror" "$@" >"$BUILD/mirror.out" 2>&1 && return 0
	echo "# sandrun-mirror $*:"
	sed 's/^/#   /' "$BUILD/mirror.out"
	return 1
}

# pip: a wheel, written by hand (no build backend needed)
no_pip=
if [ ! -x /usr/bin/pip3 ]; then
	no_pip="python3-pip is not installed"
else
	/usr/bin/python3 - "$BUILD" <<'PY'
import base64, hashlib, sys, zipfile
files = {
    "tinypkg/__init__.py": b"VALUE = 42\n",
    "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
    "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: sandrun-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(data)}\n"
record += "tinypkg-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1] + "/tinypkg-1.0-py3-none-any.whl", "w") as z:
    for name, data in files.items():
        z.writestr(name, data)
    z.writestr("tinypkg-1.0.dist-info/RECORD", record)
PY
	add_to_mirror pip "$MIRROR" "$BUILD/tinypkg-1.0-py3-none-any.whl" || no_pip="sandrun-mirror pip failed"
fi

# npm: a package made with npm pack. npm gets a cache of its own here (not
# ~/.npm) and --offline: nothing on this host asks the registry either.
no_npm=
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	no_npm="node or npm is not installed"
else
	mkdir -p "$BUILD/tinynpm"
	printf '{"name": "tinynpm", "version": "1.0.0", "main": "index.js"}\n' >"$BUILD/tinynpm/package.json"
	printf 'module.exports = { value: 42 };\n' >"$BUILD/tinynpm/index.js"
	if (cd "$BUILD/tinynpm" && npm_config_cache="$BUILD/npm-cache" npm pack --offline --silent \
		--no-update-notifier >/dev/null 2>"$BUILD/npm-pack.err"); then
		add_to_mirror npm "$MIRROR" "$BUILD/tinynpm/tinynpm-1.0.0.tgz" || no_npm="sandrun-mirror npm failed"
	else
		no_npm="npm pack failed: $(head -c 200 "$BUILD/npm-pack.err")"
	fi
fi

# Gemfile: a gem made with gem build; the job runs bundler
no_gem=
if ! command -v ruby >/dev/null 2>&1 || ! command -v gem >/dev/null 2>&1; then
	no_gem="ruby or rubygems is not installed"
elif ! command -v bundle >/dev/null 2>&1; then
	no_gem="bundler is not installed (Debian: ruby-bundler)"
else
	mkdir -p "$BUILD/tinygem/lib"
	printf 'module Tinygem\n  VALUE = 42\nend\n' >"$BUILD/tinygem/lib/tinygem.rb"
	cat >"$BUILD/tinygem/tinygem.gemspec" <<'RUBY'
Gem::Specification.new do |s|
  s.name = "tinygem"
  s.version = "1.0.0"
  s.summary = "a gem for sandrun's tests"
  s.authors = ["sandrun"]
  s.license = "MIT"
  s.files = ["lib/tinygem.rb"]
end
RUBY
	if (cd "$BUILD/tinygem" && HOME=$BUILD gem build tinygem.gemspec >/dev/null 2>"$BUILD/gem-build.err"); then
		add_to_mirror gem "$MIRROR" "$BUILD/tinygem/tinygem-1.0.0.gem" || no_gem="sandrun-mirror gem failed"
	else
		no_gem="gem build failed: $(head -c 200 "$BUILD/gem-build.err")"
	fi
fi

# Installers spend CPU seconds; the per-IP quota is not what this test checks.
stack_start --set "requirements_mirror_dir=$MIRROR" --set quota_cpu_seconds=1000 --set quota_jobs_max=20
trap 'stack_stop; rm -rf "$MIRROR" "$BUILD"' EXIT
cd "$WORK"

# --- requirements.txt (pip)
if [ -n "$no_pip" ]; then
	skip 6 "$no_pip"
else
	mkdir -p app
	printf 'tinypkg==1.0\n' > app/requirements.txt
	printf 'import tinypkg\nprint("tinypkg says", tinypkg.VALUE)\n' > app/main.py
	run_job app '{"entrypoint":"main.py","requirements":"requirements.txt"}'
	is "$(json .status "$STATUS_JSON")" completed "a job with requirements.txt completes"
	is "$(logs "$JOB_ID")" "tinypkg says 42" "the package from the mirror was installed and imported"

	mkdir -p missing
	printf 'notinmirror==9.9\n' > missing/requirements.txt
	printf 'print("should not run")\n' > missing/main.py
	run_job missing '{"entrypoint":"main.py","requirements":"requirements.txt"}'
	is "$(json .status "$STATUS_JSON")" failed "a requirement the mirror lacks fails the job"
	unlike "$(logs "$JOB_ID")" "should not run" "... before the entrypoint runs"
	like "$(logs "$JOB_ID" stream=stderr)" 'notinmirror' "... and pip says which"

	mkdir -p ro
	printf 'tinypkg==1.0\n' > ro/requirements.txt
	printf 'import os\ntry:\n    open("/mirror/pip/x", "w")\n    print("PWNED wrote the mirror")\nexcept OSError:\n    print("mirror is read-only")\n' > ro/main.py
	run_job ro '{"entrypoint":"main.py","requirements":"requirements.txt"}'
	is "$(logs "$JOB_ID")" "mirror is read-only" "the job cannot write the operator's mirror"
fi

# --- package.json (npm)
if [ -n "$no_npm" ]; then
	skip 9 "$no_npm"
else
	mkdir -p npm-app
	printf '{"name": "app", "version": "0.0.0", "dependencies": {"tinynpm": "^1.0.0"}}\n' > npm-app/package.json
	cat > npm-app/main.js <<'JS'
const fs = require("fs");
console.log("tinynpm says", require("tinynpm").value);
try {
  fs.writeFileSync("/mirror/npm/x", "");
  console.log("PWNED wrote the mirror");
} catch (err) {
  console.log("mirror is read-only");
}
JS
	run_job npm-app '{"entrypoint":"main.js","requirements":"package.json"}'
	is "$(json .status "$STATUS_JSON")" completed "a job with package.json completes"
	is "$(logs "$JOB_ID")" $'tinynpm says 42\nmirror is read-only' \
		"the npm package from the mirror was installed and required; the mirror stays read-only"
	# a bare node start is some 0.05 s; npm install takes several times that
	cpu=$(json .execution_metadata.cpu_seconds "$STATUS_JSON")
	awk -v c="$cpu" 'BEGIN { exit !(c + 0 >= 0.1) }'
	ok $? "... the install counted in the job's CPU time ($cpu s)"
	like "$(logs "$JOB_ID" stream=stderr)" 'added 1 package' "... npm's own output goes to stderr"

	mkdir -p npm-missing
	printf '{"dependencies": {"notinmirror": "1.0.0"}}\n' > npm-missing/package.json
	printf 'console.log("should not run");\n' > npm-missing/main.js
	run_job npm-missing '{"entrypoint":"main.js","requirements":"package.json"}'
	is "$(json .status "$STATUS_JSON")" failed "an npm package the mirror lacks fails the job"
	unlike "$(logs "$JOB_ID")" "should not run" "... before the entrypoint runs"
	like "$(logs "$JOB_ID" stream=stderr)" 'notinmirror' "... and npm says which"

	mkdir -p npm-version
	printf '{"dependencies": {"tinynpm": "^2.0.0"}}\n' > npm-version/package.json
	printf 'console.log("should not run");\n' > npm-version/main.js
	run_job npm-version '{"entrypoint":"main.js","requirements":"package.json"}'
	is "$(json .status "$STATUS_JSON")" failed "a version the mirror lacks fails the job"
	like "$(logs "$JOB_ID" stream=stderr)" 'tinynpm@\^2\.0\.0' "... and npm says which"
fi

# --- Gemfile (bundler)
if [ -n "$no_gem" ]; then
	skip 7 "$no_gem"
else
	mkdir -p gem-app
	printf 'source "https://rubygems.org"\ngem "tinygem", "~> 1.0"\n' > gem-app/Gemfile
	cat > gem-app/main.rb <<'RUBY'
require "tinygem"
puts "tinygem says #{Tinygem::VALUE}"
begin
  File.write("/mirror/gems/x", "")
  puts "PWNED wrote the mirror"
rescue SystemCallError
  puts "mirror is read-only"
end
RUBY
	run_job gem-app '{"entrypoint":"main.rb","requirements":"Gemfile"}'
	is "$(json .status "$STATUS_JSON")" completed "a job with a Gemfile completes"
	is "$(logs "$JOB_ID")" $'tinygem says 42\nmirror is read-only' \
		"the gem from the mirror was installed and required; the mirror stays read-only"

	mkdir -p gem-setup/sub
	printf 'source "https://rubygems.org"\ngem "tinygem"\n' > gem-setup/sub/Gemfile
	printf 'require "bundler/setup"\nrequire "tinygem"\nputs "bundled #{Tinygem::VALUE}"\n' > gem-setup/main.rb
	run_job gem-setup '{"entrypoint":"main.rb","requirements":"sub/Gemfile"}'
	is "$(json .status "$STATUS_JSON")" completed "a Gemfile in a subdirectory, with bundler/setup, completes"
	is "$(logs "$JOB_ID")" "bundled 42" "... and bundler/setup finds the bundle"

	mkdir -p gem-missing
	printf 'source "https://rubygems.org"\ngem "notinmirror"\n' > gem-missing/Gemfile
	printf 'puts "should not run"\n' > gem-missing/main.rb
	run_job gem-missing '{"entrypoint":"main.rb","requirements":"Gemfile"}'
	is "$(json .status "$STATUS_JSON")" failed "a gem the mirror lacks fails the job"
	unlike "$(logs "$JOB_ID")" "should not run" "... before the entrypoint runs"
	like "$(logs "$JOB_ID" stream=stderr)" 'notinmirror' "... and bundler says which"
fi
done_testing
