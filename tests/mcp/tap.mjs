// TAP for the node tests of tests/mcp: ok() prints one line per check (and
// the detail of a failed one as a comment), done() the plan, then exits 1
// when anything failed.
let n = 0;
let failed = 0;

export function ok(cond, name, detail) {
  n += 1;
  if (!cond) failed += 1;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && detail !== undefined) console.log(`# ${JSON.stringify(detail).slice(0, 2000)}`);
}

export function done() {
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}
