#!/usr/bin/env bash
# The manual pages (man/): each is clean for mandoc's linter, each is
# installed by make install, each documents every option its program
# prints in its usage, and sandrun.conf(5) documents every key of the
# configuration file with the default and the bounds common/config.c gives
# it, and no key that does not exist.
. "$top_srcdir/tests/integration/lib.sh"
MAN=$top_srcdir/man
pages=(sandrun-verify.1 sandrun.conf.5 sandrun-env.8 sandrun-fcgi.8 sandrun-mirror.8 sandrun-runner.8 sandrun-ws.8)

# --- lint
if command -v mandoc >/dev/null; then
	for p in "${pages[@]}"; do
		out=$(mandoc -T lint -W warning "$MAN/$p" 2>&1)
		is "$out" "" "mandoc -T lint: $p has no warning"
	done
else
	skip "mandoc -T lint of the manual pages" "mandoc is not installed (apt-get install mandoc; contrib/quickstart check does)"
fi

# --- installed by make install
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if make -s -C "$top_builddir" install-man DESTDIR="$dest" >"$dest.log" 2>&1; then
	for p in "${pages[@]}"; do
		f=$(find "$dest" -path "*/man${p##*.}/$p" | head -n 1)
		ok "$([ -s "$f" ]; echo $?)" "make install puts $p in man${p##*.}/ (${f#"$dest"})"
	done
else
	ok 1 "make install-man works: $(tail -n 3 "$dest.log")"
fi
rm -f "$dest.log"

# --- every option of a program's usage is in its page
usage_options() { # the long and short options a usage text names
	grep -oE '(^|[ [])--?[a-z][a-z-]*' | sed 's/^[ [ ]*//' | sort -u
}
for prog in sandrun-runner:sandrun-runner.8 sandrun-fcgi:sandrun-fcgi.8 sandrun-ws:sandrun-ws.8 sandrun-verify:sandrun-verify.1; do
	bin=$top_builddir/${prog%%:*} page=$MAN/${prog#*:}
	missing=
	for o in $("$bin" -h 2>&1 | usage_options); do
		grep -qE "^\.(It|Op|Nm).*Fl ${o#-}( |$)|Fl ${o#-}( |$)" "$page" || missing+=" $o"
	done
	is "${missing:-none}" none "every option ${prog%%:*} -h prints is in ${prog#*:}"
done
missing=
for o in $("$top_srcdir/contrib/sandrun-env" --help 2>&1 | usage_options); do
	grep -qE "Fl ${o#-}( |$)" "$MAN/sandrun-env.8" || missing+=" $o"
done
is "${missing:-none}" none "every option sandrun-env --help prints is in sandrun-env.8"
missing=
for c in $("$top_srcdir/contrib/sandrun-mirror" 2>&1 | awk '/^usage:/ { print $3 }'); do
	grep -qE "^\.Cm $c( |$)" "$MAN/sandrun-mirror.8" || missing+=" $c"
done
is "${missing:-none}" none "every command of sandrun-mirror's usage is in sandrun-mirror.8"

# --- sandrun.conf(5) against common/config.c (the script prints PASS or FAIL lines)
while read -r verdict what; do
	case $verdict in
	PASS) ok 0 "$what" ;;
	FAIL) ok 1 "$what" ;;
	*) echo "# $verdict $what" ;;
	esac
done < <(/usr/bin/python3 - "$top_srcdir/common/config.c" "$MAN/sandrun.conf.5" 2>&1 <<'PY'
import re, sys
src, page = open(sys.argv[1]).read(), open(sys.argv[2]).read()
def num(expr):
    e = re.sub(r'INT64_C\(([^)]*)\)', r'\1', expr).replace('LL', '')
    e = e.replace('KIB', '1024').replace('MIB', '1048576').replace('GIB', '1073741824')
    if not re.fullmatch(r'[0-9. *+()]+', e):
        raise ValueError(expr)
    return eval(e)
table = src[src.index('config_keys[] = {'):src.index('};', src.index('config_keys[] = {'))]
keys = {}
for kind, name, args in re.findall(r'CFG_(STR|INT|UINT|LIMIT|REAL|RUNNER_REAL)\((\w+)((?:,[^,)]+){0,2})\)', table):
    lo = hi = None
    if args:
        lo, hi = (num(a.strip()) for a in args.strip(',').split(','))
    keys[name] = (kind, lo, hi)
body = src[src.index('void config_defaults('):]
body = body[:body.index('\n}\n')]
defaults = {}
for name, local, value in re.findall(r'config_set_string\(&c->(\w+), (LOCALSTATEDIR )?"([^"]*)"\)', body):
    defaults[name] = ('LOCALSTATEDIR' + value) if local else value
for name, value in re.findall(r'c->(?:limits\.)?(\w+) = ([^;]+);', body):
    defaults[name] = num(value)
entries = {}
lines = page.split('\n')
for i, l in enumerate(lines):
    m = re.match(r'\.It Cm (\w+)', l)
    if m:
        text = []
        for l2 in lines[i + 1:]:
            if l2.startswith('.It') or l2.startswith('.El'):
                break
            text.append(l2)
        entries[m.group(1)] = ' '.join(text)
def tap(ok, what):
    print('%s %s' % ('PASS' if ok else 'FAIL', what))
undocumented = sorted(set(keys) - set(entries))
tap(not undocumented, 'sandrun.conf.5 documents every key of common/config.c (%d keys; missing: %s)' % (len(keys), ' '.join(undocumented) or 'none'))
unknown = sorted(set(entries) - set(keys))
tap(not unknown, 'sandrun.conf.5 documents no key the parser does not know (%s)' % (' '.join(unknown) or 'none'))
bad = []
for name, (kind, lo, hi) in sorted(keys.items()):
    text = entries.get(name)
    if text is None:
        continue
    m = re.search(r'Default: (\S*)', text)
    doc = m.group(1).rstrip('.') if m else None
    want = defaults.get(name, '' if kind == 'STR' else 0)   # config_defaults starts from zeroes
    if doc is None:
        bad.append('%s: no Default' % name)
    elif isinstance(want, str):
        if want.startswith('LOCALSTATEDIR'):
            ok = doc.endswith(want[len('LOCALSTATEDIR'):]) and 'localstatedir' in text
        else:
            ok = doc == want or (want == '' and doc == 'empty')
        if not ok:
            bad.append('%s: Default %r, the code says %r' % (name, doc, want))
    else:
        try:
            ok = float(doc) == float(want)
        except ValueError:
            ok = False
        if not ok:
            bad.append('%s: Default %r, the code says %r' % (name, doc, want))
    r = re.search(r'Range: (\S+) to (\S+?)\.?(?:\s|$)', text)
    if lo is None:
        if r:
            bad.append('%s: a Range for a string' % name)
    elif not r or float(r.group(1)) != float(lo) or float(r.group(2)) != float(hi):
        bad.append('%s: Range %s, the code says %s to %s' % (name, r.group(0) if r else 'none', lo, hi))
tap(not bad, 'every key\'s Default and Range in sandrun.conf.5 are the code\'s (%s)' % ('; '.join(bad) or 'all %d agree' % len(keys)))
PY
)
done_testing
