// The playground page (web/) in a real browser: headless Chromium (the
// system's, PLAYGROUND_CHROMIUM) driven by puppeteer-core, against a stack's
// URL. Prints TAP lines (tests/integration/t340-playground.sh relays them)
// and saves a screenshot of each step in OUT_DIR.
//
//   node playground.mjs URL OUT_DIR
//
// Environment: PLAYGROUND_CHROMIUM (default /usr/bin/chromium),
// PLAYGROUND_SPKI (the server key's SPKI sha256, base64: Chromium trusts that
// key, as the stack's certificate comes from a CA of its own),
// PLAYGROUND_ML=1 when the ml-basic environment is offered,
// PLAYGROUND_PTY=1 when the stack runs the WebSocket gateway (else the
// terminal check is a TAP skip giving PLAYGROUND_PTY_WHY).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [url, outDir] = process.argv.slice(2);
if (!url || !outDir) {
  console.error('usage: node playground.mjs URL OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const origin = new URL(url).origin;

let n = 0;
let failed = 0;
function ok(cond, name, detail) {
  n += 1;
  if (!cond) failed += 1;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && detail !== undefined) console.log(`# ${JSON.stringify(detail).slice(0, 1500)}`);
  return cond;
}
function skip(name, why) {
  n += 1;
  console.log(`ok ${n} - ${name} # SKIP ${why}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await puppeteer.launch({
  executablePath: process.env.PLAYGROUND_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  acceptInsecureCerts: true,
  args: [
    '--no-sandbox',                // CI runs as root
    '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-features=Translate,OptimizationHints,MediaRouter',
    ...(process.env.PLAYGROUND_SPKI ? [`--ignore-certificate-errors-spki-list=${process.env.PLAYGROUND_SPKI}`] : []),
  ],
});
let page;
const requests = [];
const consoleErrors = [];
const pageErrors = [];
let shot = 0;
async function snap(name) {
  shot += 1;
  const file = join(outDir, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`# screenshot ${file}`);
  return file;
}
// until(fn, ms): polls fn in the page until it returns something truthy.
async function until(fn, ms, ...args) {
  try {
    const h = await page.waitForFunction(fn, { timeout: ms, polling: 100 }, ...args);
    return await h.jsonValue();
  } catch {
    return null;
  }
}
const text = (sel) => page.$eval(sel, (e) => e.textContent).catch(() => null);
async function setCode(code) {
  await page.evaluate((c) => document.querySelector('.CodeMirror').CodeMirror.setValue(c), code);
}
async function clearField(sel) {
  await page.$eval(sel, (e) => { e.value = ''; });
}

try {
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push({ text: m.text(), at: n }); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());

  // --- 1. the page loads, with its quota and environments
  const resp = await page.goto(`${url}/`, { waitUntil: 'networkidle0' });
  ok(resp && resp.status() === 200 && (resp.headers()['content-type'] || '').startsWith('text/html'),
    'GET / in a browser: the page (200 text/html)', resp && [resp.status(), resp.headers()['content-type']]);
  const csp = (resp && resp.headers()['content-security-policy']) || '';
  ok(/default-src 'self'/.test(csp) && /connect-src 'self'/.test(csp) && !/script-src[^;]*unsafe/.test(csp),
    "... with a strict Content-Security-Policy (self only, no unsafe script)", csp);
  ok(await page.title() === 'Sandrun playground', 'the page is the playground');
  const cpu = await until(() => { const t = document.getElementById('q-cpu').textContent; return t !== '–' && t; }, 10000);
  const stats = await page.evaluate(async () => (await fetch('/stats')).json());
  ok(cpu && cpu.includes(`/ ${stats.your_quota.limit.toFixed(1)} s`),
    'the quota box shows /stats: CPU used / limit', { cpu, stats });
  ok((await text('#q-storage') || '').includes('/ 256.0 MiB') || (await text('#q-storage') || '').includes('/'),
    '... and storage used / limit', await text('#q-storage'));
  const envs = await until(() => [...document.querySelectorAll('#environment option')].map((o) => o.value).join(','), 10000);
  ok(envs && envs.split(',').includes('default'), 'the environment list comes from /environments', envs);
  ok(consoleErrors.length === 0 && pageErrors.length === 0, 'no console errors while loading', { consoleErrors, pageErrors });
  await snap('loaded');

  // --- 2. keyboard: tabs are buttons with arrows; every field has a label
  await page.focus('#tab-run');
  await page.keyboard.press('ArrowRight');
  const tabState = await page.evaluate(() => [document.activeElement.id,
    document.getElementById('tab-session').getAttribute('aria-selected'), document.getElementById('panel-session').hidden]);
  ok(tabState[0] === 'tab-session' && tabState[1] === 'true' && tabState[2] === false,
    'keyboard: ArrowRight on the Run tab selects and focuses the Session tab', tabState);
  await page.keyboard.press('ArrowLeft');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => e.type !== 'hidden' && getComputedStyle(e).display !== 'none')
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
    .map((e) => e.id || e.outerHTML.slice(0, 80)));
  ok(unlabelled.length === 0, 'every input has a label', unlabelled);
  await page.focus('.CodeMirror textarea');
  await page.keyboard.press('Escape');
  const afterEsc = await page.evaluate(() => document.activeElement.id);
  ok(afterEsc === 'drop', 'keyboard: Esc leaves the code editor (focus on the files box)', afterEsc);
  const focusStyle = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  ok(focusStyle !== 'none', `... and the focus is visible (outline ${focusStyle})`, focusStyle);

  // --- 3. a Python job's output appears while it runs
  const live = 'import sys, time\nprint("args", sys.argv[1:], flush=True)\nprint("stdin", sys.stdin.read().strip(), flush=True)\n'
    + 'print("extra", open("extra.txt").read().strip(), flush=True)\n'
    + 'for i in range(1, 7):\n    print(f"tick {i}", flush=True)\n    time.sleep(1.2)\nprint("finished", file=sys.stderr)\n';
  await page.select('#example', '');
  await page.select('#language', 'python3');
  await setCode(live);
  await clearField('#args');
  await page.type('#args', "one 'two three'");
  await page.type('#stdin', 'hello from stdin');
  const extra = join(outDir, 'extra.txt');
  writeFileSync(extra, 'a file sent beside the code\n');
  await (await page.$('#files')).uploadFile(extra);
  await until(() => document.getElementById('file-list').textContent.includes('extra.txt'), 5000);
  await page.click('#run');
  const first = await until(() => document.getElementById('output').textContent.includes('tick 1'), 30000);
  const jobId = await page.$eval('#output', (e) => e.dataset.jobId).catch(() => null);
  const during = await page.evaluate(async (id) => (await fetch(`/status/${id}`)).json(), jobId);
  const outNow = await text('#output');
  ok(first && during.status === 'running' && !outNow.includes('tick 6'),
    'a running job: its first line is on the page before it ends', { during: during.status, outNow });
  ok(/args \['one', 'two three'\]/.test(outNow) && outNow.includes('stdin hello from stdin'),
    '... the arguments and stdin were passed', outNow);
  ok(outNow.includes('extra a file sent beside the code'), '... and a file added beside the code', outNow);
  await snap('live-output');
  const done = await until(() => document.getElementById('output').dataset.done, 40000);
  const outEnd = await text('#output');
  ok(done === 'completed' && outEnd.includes('tick 6'), 'then it completes with all its output', { done, outEnd });
  ok(await page.$eval('#output .stderr', (e) => e.textContent.includes('finished')).catch(() => false),
    '... stderr shown apart', outEnd);
  const fig = await text('#figures');
  ok(/exit code\s*0/.test(fig) && /CPU\s*[0-9.]+ s/.test(fig) && /memory peak/.test(fig),
    'the status, exit code and resource figures are shown', fig);
  ok((await text('#job-state')) === 'completed', 'the status badge says completed', await text('#job-state'));
  if (process.env.PLAYGROUND_SIGNED === '1') {
    const sig = await page.$eval('#signature', (d) => [d.hidden, d.textContent]).catch(() => [true, '']);
    ok(!sig[0] && /worker id\s*[A-Za-z0-9+/=]{40,}/.test(sig[1]) && /signature\s*[A-Za-z0-9+/=]{80,}/.test(sig[1]),
      'the worker signature is shown (worker id, signature)', sig);
  } else {
    skip('the worker signature is shown', 'the stack signs no results');
  }
  await snap('job-done');

  await page.click('#file-list button[aria-label="Remove extra.txt"]');

  // Dropping a file onto the files box adds it (as a drag from the desktop does).
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped\n'], 'dropped.txt', { type: 'text/plain' }));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  ok(((await text('#file-list')) || '').includes('dropped.txt'), 'a file dropped on the files box is added', await text('#file-list'));
  await page.click('#file-list button[aria-label="Remove dropped.txt"]');

  // Cancel: a running job is cancelled from the page.
  await page.select('#example', 'hello');
  await page.click('#run');
  await until(() => document.getElementById('output').textContent.includes('line 1'), 30000);
  await page.click('#cancel');
  const cancelled = await until(() => document.getElementById('output').dataset.done, 20000);
  ok(cancelled === 'cancelled' && (await text('#job-state')).startsWith('cancelled'), 'Cancel stops a running job (cancelled)', { cancelled, state: await text('#job-state') });

  // --- 4. a text output is previewed, offered as a download (kept as a blob)
  await page.select('#example', 'text');
  await page.select('#environment', 'default');
  await clearField('#args');
  await clearField('#stdin');
  await page.click('#run');
  const textDone = await until(() => { const o = document.getElementById('output'); return o.dataset.done && o.textContent.includes('wrote'); }, 40000);
  const preview = await text('.preview');
  ok(textDone === true && preview && preview.includes('10 squared is 100'), 'a text output is previewed on the page', { textDone, preview });
  const link = await page.$eval('.out-file a', (a) => [a.textContent, a.href, a.getAttribute('download')]).catch(() => null);
  ok(link && link[0] === 'results.txt' && link[1].startsWith('blob:') && link[2] === 'results.txt',
    '... with a download link', link);
  await snap('text-output');

  // --- 5. the matplotlib example in ml-basic draws its image
  if (process.env.PLAYGROUND_ML === '1') {
    await page.select('#example', 'plot');
    const envNow = await page.$eval('#environment', (e) => e.value);
    await page.click('#run');
    const plotDone = await until(() => document.getElementById('output').dataset.done
      && document.getElementById('output').textContent.includes('saved'), 150000);
    const img = await until(() => {
      const i = document.querySelector('img.out-img');
      return i && i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight, i.alt];
    }, 20000);
    ok(envNow === 'ml-basic' && plotDone && img && img[0] > 0 && img[1] > 0,
      `the matplotlib example (ml-basic) shows its plot: an <img> of ${img ? img.join(' x ') : 'nothing'}`, { envNow, plotDone, img });
    await page.evaluate(() => window.scrollTo(0, 0));
    const f = await snap('matplotlib');
    await page.screenshot({ path: join(outDir, 'readme.png') });
    console.log(`# readme screenshot ${join(outDir, 'readme.png')} (from ${f})`);
  } else {
    skip('the matplotlib example (ml-basic) shows its plot', process.env.PLAYGROUND_ML_WHY || 'ml-basic is not offered');
  }

  // --- 6. a 429 shows when to retry, counting down. Two sleeping jobs
  // from the page's own address fill its jobs-at-once quota (2).
  const blockers = await page.evaluate(async () => {
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const r = await fetch('/submit', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ entrypoint: 's.py', files: { 's.py': 'import time\ntime.sleep(60)' }, timeout: 90 }) });
      ids.push((await r.json()).job_id);
    }
    return ids;
  });
  await page.select('#example', 'hello');
  await page.click('#run');
  const t0 = await until(() => { const s = document.getElementById('retry-seconds'); return s && Number(s.textContent); }, 10000);
  const reason = await text('#retry');
  await snap('retry-countdown');
  await sleep(2200);
  const t1 = await page.$eval('#retry-seconds', (s) => Number(s.textContent)).catch(() => null);
  ok(t0 > 0 && /jobs already queued or running/.test(reason) && await page.$eval('#run', (b) => b.disabled),
    `a 429 (jobs at once): the reason and "retry in ${t0} s", Run disabled`, { t0, reason });
  ok(t1 !== null && t1 < t0, `... counting down (${t0} s, then ${t1} s)`, { t0, t1 });
  await page.evaluate(async (ids) => { for (const id of ids) await fetch(`/jobs/${id}`, { method: 'DELETE' }); }, blockers);
  const freed = await until(() => !document.getElementById('run').disabled, 10000);
  ok(freed === true, '... and Run is free again when it reaches 0', freed);

  // --- 7. the Session tab: a session, its file tree, pause and resume
  await page.click('#tab-session');
  await page.click('#s-create');
  const ready = await until(() => document.getElementById('s-state').dataset.status === 'ready', 40000);
  ok(ready === true, 'Session tab: "Start a session" starts one (ready)', await text('#s-state'));
  const upload = join(outDir, 'hello-upload.txt');
  writeFileSync(upload, 'uploaded from the page\n');
  const input = await page.$('#tree-upload');
  await input.uploadFile(upload);
  const listed = await until(() => !!document.querySelector('#tree li[data-name="hello-upload.txt"]'), 20000);
  ok(listed === true, 'a file uploaded from the page is listed in the workspace tree', await text('#tree'));
  await snap('session-files');
  // Downloads land in OUT_DIR/downloads (Chromium's download behaviour, set over CDP).
  const dlDir = join(outDir, 'downloads');
  mkdirSync(dlDir, { recursive: true });
  rmSync(join(dlDir, 'hello-upload.txt'), { force: true });
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dlDir });
  await page.click('#tree li[data-name="hello-upload.txt"] button[aria-label^="Download"]');
  let dlBody = null;
  for (let i = 0; i < 100 && dlBody === null; i++) {
    await sleep(100);
    if (existsSync(join(dlDir, 'hello-upload.txt'))) dlBody = readFileSync(join(dlDir, 'hello-upload.txt'), 'utf8');
  }
  ok(dlBody === 'uploaded from the page\n', 'Download saves the file as it was uploaded', { dlBody, note: await text('#s-note') });
  await page.click('#tree li[data-name="hello-upload.txt"] button[aria-label^="Delete"]');
  const gone = await until(() => !document.querySelector('#tree li[data-name="hello-upload.txt"]'), 15000);
  const check = await page.evaluate(async () => {
    const id = document.getElementById('s-state').textContent;
    return id;
  });
  ok(gone === true, 'delete removes it from the tree', check);

  await page.click('#s-pause');
  const paused = await until(() => document.getElementById('s-state').dataset.status === 'paused', 20000);
  ok(paused === true && await page.$eval('#s-resume', (b) => !b.disabled), 'Pause: the status says paused, Resume is offered', await text('#s-state'));
  await snap('session-paused');
  await page.click('#s-resume');
  const resumed = await until(() => document.getElementById('s-state').dataset.status === 'ready', 20000);
  ok(resumed === true, 'Resume: ready again', await text('#s-state'));
  await page.click('#s-snapshot');
  const snapNote = await until(() => /wsp-[a-z2-7]{26}/.test(document.getElementById('s-note').textContent) && document.getElementById('s-note').textContent, 30000);
  ok(!!snapNote, 'Snapshot: the workspace id is shown', snapNote);

  // --- 8. the terminal: cd /tmp; pwd reads /tmp back from xterm's buffer
  const noPty = process.env.PLAYGROUND_PTY === '1'
    && await until(() => { const t = document.getElementById('terminal').dataset; return t.state === 'ready' || /op "pty" is not one of/.test(t.error || '') ? t.state !== 'ready' : null; }, 30000);
  if (noPty) {
    // The gateway is there but the runner predates the terminal (the
    // session agent refuses the op): nothing the page could do about it.
    skip('the terminal: "cd /tmp; pwd" shows /tmp', `the runner has no terminal support yet (${await text('#term-note')})`);
    await snap('session');
  } else if (process.env.PLAYGROUND_PTY === '1') {
    const termReady = await until(() => document.getElementById('terminal').dataset.state === 'ready', 30000);
    await page.click('#terminal');
    await page.keyboard.type('cd /tmp; pwd\n', { delay: 20 });
    const seen = await until(() => {
      const t = window.sandrunPlayground.term;
      if (!t) return null;
      const b = t.buffer.active;
      for (let i = 0; i < b.length; i++) {
        const l = b.getLine(i);
        if (l && l.translateToString(true).trim() === '/tmp') return true;
      }
      return null;
    }, 20000);
    const screen = await page.evaluate(() => {
      const t = window.sandrunPlayground.term;
      if (!t) return '';
      const b = t.buffer.active;
      const lines = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
      return lines.join('\n').trim();
    });
    ok(termReady === true && seen === true, 'the terminal: "cd /tmp; pwd" shows /tmp', { termReady, screen, note: await text('#term-note') });
    await page.keyboard.press('F6');
    const left = await page.evaluate(() => document.activeElement.id);
    ok(left === 'tree-refresh', 'keyboard: F6 leaves the terminal for the file tree', left);
    // (headless Chromium may leave a row of the DOM renderer stale in a screenshot)
    await page.evaluate(() => { const t = window.sandrunPlayground.term; t.refresh(0, t.rows - 1); });
    await sleep(300);
    await snap('terminal');
  } else {
    skip('the terminal: "cd /tmp; pwd" shows /tmp', process.env.PLAYGROUND_PTY_WHY || 'no WebSocket gateway in this stack');
    await snap('session');
  }

  // --- 9. a phone-sized screen: nothing overflows sideways
  // (isMobile would reload the page; the width is what the layout answers to)
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2 });
  await sleep(400);
  const wSession = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  await snap('phone-session');
  await page.click('#tab-run');
  await sleep(400);
  const wRun = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  await snap('phone-run');
  ok(wRun[0] <= wRun[1] && wSession[0] <= wSession[1],
    `phone size (390x844): no horizontal overflow (Run ${wRun[0]}px, Session ${wSession[0]}px wide)`, { wRun, wSession });
  await page.setViewport({ width: 1280, height: 900 });

  // End the session from the page.
  await page.click('#tab-session');
  const sid = await page.$eval('#s-state', (e) => e.dataset.id);
  await page.click('#s-end');
  const ended = await until(() => document.getElementById('s-state').dataset.status === 'none', 15000);
  const after = await page.evaluate(async (id) => (await fetch(`/sessions/${id}`)).status, sid);
  ok(/^ses-/.test(sid) && ended === true && after === 410, `End: the session is deleted (then GET /sessions/{id}: ${after})`, { sid, note: await text('#s-note') });

  // --- 10. the whole visit: nothing went to another origin, no CSP report, no script error
  const foreign = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('blob:') && !u.startsWith('data:')
    && !u.startsWith(origin.replace(/^http/, 'ws') + '/'));
  ok(foreign.length === 0 && requests.length > 10, `no request left the origin (${requests.length} requests seen)`, foreign);
  const cspErrors = consoleErrors.filter((e) => /Content.Security.Policy|Refused to/i.test(e.text));
  ok(cspErrors.length === 0 && pageErrors.length === 0, 'no CSP violation and no script error on the whole visit', { cspErrors, pageErrors });
} catch (e) {
  ok(false, `the browser session ran to its end: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
  try { await snap('failure'); } catch { /* no page */ }
} finally {
  await browser.close();
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
