#!/bin/sh
# Refreshes the playground's vendored libraries (web/vendor/) from npm: the
# versions pinned in package.json / package-lock.json are installed into a
# scratch node_modules, and only the prebuilt browser files the page loads,
# plus each package's LICENSE, are copied here. The copies are committed, so
# building, installing and serving the page needs no network and no bundler.
#
#   web/vendor/update.sh            install from package-lock.json (npm ci)
#   web/vendor/update.sh --latest   re-resolve package.json (npm install), then copy
#
# After --latest, check the page (tests/integration/t340-playground.sh) and
# commit package.json, package-lock.json and the copies together.
set -eu
cd "$(dirname "$0")"
export PUPPETEER_SKIP_DOWNLOAD=1
if [ "${1:-}" = --latest ]; then
	npm install --no-audit --no-fund
else
	npm ci --no-audit --no-fund
fi
NM=node_modules
rm -rf codemirror xterm
mkdir -p codemirror/lib codemirror/mode xterm

# CodeMirror 5: the core, its stylesheet, and the modes of the languages the
# Run tab offers (python3, node, bash/sh, ruby, Rscript, perl; php is shown plain).
cp "$NM/codemirror/lib/codemirror.js" "$NM/codemirror/lib/codemirror.css" codemirror/lib/
for m in python javascript shell ruby r perl; do
	mkdir -p "codemirror/mode/$m"
	cp "$NM/codemirror/mode/$m/$m.js" "codemirror/mode/$m/"
done
cp "$NM/codemirror/LICENSE" codemirror/LICENSE
node -e 'console.log(require("./node_modules/codemirror/package.json").version)' >codemirror/VERSION

# xterm.js and its fit addon: the UMD builds (window.Terminal, window.FitAddon).
cp "$NM/@xterm/xterm/lib/xterm.js" "$NM/@xterm/xterm/css/xterm.css" xterm/
cp "$NM/@xterm/xterm/LICENSE" xterm/LICENSE
cp "$NM/@xterm/addon-fit/lib/addon-fit.js" xterm/
cp "$NM/@xterm/addon-fit/LICENSE" xterm/LICENSE.addon-fit
node -e 'for (const p of ["@xterm/xterm", "@xterm/addon-fit"]) console.log(p, require("./node_modules/" + p + "/package.json").version)' >xterm/VERSION

rm -rf "$NM"
echo "web/vendor: refreshed; git diff --stat web/vendor shows what changed"
