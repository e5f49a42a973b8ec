// The Sandrun playground (web/index.html): the Run tab submits a job with
// POST /submit (multipart: the editor's file and the dropped ones, and the
// manifest), follows its output live over GET /logs/{id}/stream (Server-Sent
// Events), then shows the status, the resource figures, the worker signature
// and the output files (each fetched once as a blob: a job is deleted once
// all its outputs were downloaded, so the page keeps them; images inline,
// text previewed). The Session tab starts a session (POST /sessions), opens a
// terminal on it (xterm.js over the WebSocket GET /sessions/{id}/pty: binary
// keystrokes out, binary output in, JSON control messages) and shows its
// workspace (the files routes) with upload, download and delete. The quota
// box polls GET /stats. Everything goes to this page's origin only; no
// inline script, no eval (the page's Content-Security-Policy forbids both).
// The vendored CodeMirror 5 and xterm.js are classic scripts loaded before
// this module (window.CodeMirror, window.Terminal, window.FitAddon).

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ helpers

// One API request: {status, headers, data (parsed JSON or text), retryAfter}.
async function api(method, path, { json, body, headers = {} } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    init.body = body;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { status: 0, headers: new Headers(), data: { error: 'Network error', reason: String(e.message || e) } };
  }
  const text = await res.text();
  let data = text;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    try { data = JSON.parse(text); } catch { /* keep the text */ }
  }
  let retryAfter = Number(res.headers.get('Retry-After'));
  if (!(retryAfter > 0) && data && typeof data === 'object' && data.retry_after > 0) retryAfter = data.retry_after;
  return { status: res.status, headers: res.headers, data, retryAfter: retryAfter > 0 ? Math.ceil(retryAfter) : 0 };
}

function errorText(r) {
  const d = r.data;
  if (d && typeof d === 'object') {
    return `${r.status} ${d.error || ''}${d.reason ? ': ' + d.reason : ''}${d.field ? ` (field ${d.field})` : ''}`;
  }
  return `${r.status} ${String(d).slice(0, 200)}`;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

// A path's components percent-encoded, its slashes kept (GET /download/{id}/{path}).
const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/');

// Shell-like splitting of the arguments field: blanks separate, '…' and "…" quote.
function splitArgs(s) {
  const out = [];
  let cur = null;
  let q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      cur = cur ?? '';
    } else if (/\s/.test(c)) {
      if (cur !== null) out.push(cur);
      cur = null;
    } else if (c === '\\' && i + 1 < s.length) {
      cur = (cur ?? '') + s[++i];
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (q) throw new Error(`unclosed ${q} in the arguments`);
  if (cur !== null) out.push(cur);
  return out;
}

// ------------------------------------------------------------------- tabs

const tabs = [$('tab-run'), $('tab-session')];
function selectTab(tab, focus) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  if (focus) tab.focus();
  if (tab.id === 'tab-run' && editor) editor.refresh();
  if (tab.id === 'tab-session') fitTerminal();
}
for (const t of tabs) {
  t.addEventListener('click', () => selectTab(t, false));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    let next = null;
    if (e.key === 'ArrowRight') next = tabs[(i + 1) % tabs.length];
    else if (e.key === 'ArrowLeft') next = tabs[(i + tabs.length - 1) % tabs.length];
    else if (e.key === 'Home') next = tabs[0];
    else if (e.key === 'End') next = tabs[tabs.length - 1];
    if (next) {
      e.preventDefault();
      selectTab(next, true);
    }
  });
}

// ------------------------------------------------------------------ quota

async function refreshQuota() {
  const r = await api('GET', '/stats');
  if (r.status !== 200 || typeof r.data !== 'object') return;
  const q = r.data.your_quota || {};
  const s = r.data.system || {};
  $('q-cpu').textContent = `${(q.used ?? 0).toFixed(1)} / ${(q.limit ?? 0).toFixed(1)} s`;
  $('q-jobs').textContent = String(q.active_jobs ?? 0);
  $('q-storage').textContent = `${bytes(q.storage_used_bytes)} / ${bytes(q.storage_limit_bytes)}`;
  $('q-queue').textContent = `${s.queue_length ?? 0} · ${s.runners ?? 0} runner${s.runners === 1 ? '' : 's'}`;
  $('quota').classList.toggle('exhausted', q.can_submit === false);
  $('quota').dataset.used = String(q.used ?? '');
}
setInterval(() => { if (document.visibilityState === 'visible') refreshQuota(); }, 5000);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') refreshQuota(); });

// ----------------------------------------------------------- environments

async function loadEnvironments() {
  const r = await api('GET', '/environments');
  if (r.status !== 200 || !Array.isArray(r.data.environments)) return;
  for (const sel of [$('environment'), $('s-environment')]) {
    const keep = sel.value;
    sel.replaceChildren();
    for (const e of r.data.environments) {
      sel.append(el('option', { value: e.name, text: e.description ? `${e.name} — ${e.description}` : e.name }));
    }
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
  }
}

// -------------------------------------------------------------- the editor

const LANGS = {
  python3: { file: 'main.py', mode: 'python' },
  node: { file: 'main.js', mode: 'javascript' },
  bash: { file: 'main.sh', mode: 'shell' },
  sh: { file: 'main.sh', mode: 'shell' },
  ruby: { file: 'main.rb', mode: 'ruby' },
  Rscript: { file: 'main.R', mode: 'r' },
  perl: { file: 'main.pl', mode: 'perl' },
  php: { file: 'main.php', mode: null },
};

const EXAMPLES = {
  hello: {
    language: 'python3', environment: 'default', outputs: '',
    code: 'import time\n\nfor i in range(1, 6):\n    print(f"line {i}", flush=True)\n    time.sleep(1)\nprint("done")\n',
  },
  plot: {
    language: 'python3', environment: 'ml-basic', outputs: '*.png',
    code: 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nimport numpy as np\n\n'
      + 'x = np.linspace(0, 4 * np.pi, 200)\nplt.figure(figsize=(6, 3.5))\nplt.plot(x, np.sin(x), label="sin")\n'
      + 'plt.plot(x, np.cos(x), label="cos")\nplt.legend()\nplt.title("Drawn in a Sandrun sandbox")\n'
      + 'plt.savefig("plot.png", dpi=100)\nprint("saved plot.png")\n',
  },
  text: {
    language: 'python3', environment: 'default', outputs: '*.txt',
    code: 'with open("results.txt", "w") as f:\n    for n in range(1, 11):\n        f.write(f"{n} squared is {n * n}\\n")\nprint("wrote results.txt")\n',
  },
};

let editor = null;
const codeArea = $('code');
if (window.CodeMirror) {
  editor = window.CodeMirror.fromTextArea(codeArea, {
    lineNumbers: true, indentUnit: 4, mode: 'python', viewportMargin: Infinity,
    // Tab indents; Esc or F6 moves the focus on (to the files box),
    // Shift-Tab back: the keyboard is never trapped in the editor.
    extraKeys: { 'Shift-Tab': false, Esc: () => $('drop').focus(), F6: () => $('drop').focus() },
  });
  editor.getInputField().setAttribute('aria-label', 'Code');
  editor.getInputField().id = 'code-input';
  document.querySelector('label[for="code"]').setAttribute('for', 'code-input');
}
const getCode = () => (editor ? editor.getValue() : codeArea.value);
const setCode = (s) => (editor ? editor.setValue(s) : (codeArea.value = s));

function languageChanged() {
  const l = LANGS[$('language').value];
  $('entry-name').textContent = l.file;
  if (editor) editor.setOption('mode', l.mode);
}
$('language').addEventListener('change', languageChanged);
$('example').addEventListener('change', () => {
  const ex = EXAMPLES[$('example').value];
  if (!ex) return;
  $('language').value = ex.language;
  if ([...$('environment').options].some((o) => o.value === ex.environment)) $('environment').value = ex.environment;
  $('outputs').value = ex.outputs || $('outputs').defaultValue;
  setCode(ex.code);
  languageChanged();
});

// Extra files: the file input and drag and drop onto the box.
const extraFiles = new Map();
function showFiles() {
  $('file-list').replaceChildren(...[...extraFiles.values()].map((f) => el('li', {},
    `${f.name} (${bytes(f.size)}) `,
    el('button', { type: 'button', class: 'small', 'aria-label': `Remove ${f.name}`, onclick: () => { extraFiles.delete(f.name); showFiles(); } }, 'remove'))));
}
function addFiles(list) {
  for (const f of list) extraFiles.set(f.name, f);
  showFiles();
}
$('files').addEventListener('change', (e) => { addFiles(e.target.files); e.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  addFiles(e.dataTransfer.files);
});
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('files').click(); }
});

// ---------------------------------------------------------------- the run

const outEl = $('output');
let job = null;          // {id, es, done, blobs: []}

function setState(text, kind) {
  const b = $('job-state');
  b.textContent = text;
  b.className = `badge ${kind || ''}`;
}

function appendOutput(text, stream) {
  const atEnd = outEl.scrollTop + outEl.clientHeight >= outEl.scrollHeight - 4;
  outEl.append(el('span', { class: stream }, text));
  if (atEnd) outEl.scrollTop = outEl.scrollHeight;
}

// The 429 countdown: the Run button waits, the seconds go down, then it is free.
let retryTimer = null;
function showRetry(reason, seconds) {
  clearInterval(retryTimer);
  const box = $('retry');
  let left = Math.max(1, seconds || 1);
  const paint = () => {
    box.replaceChildren(`${reason} Retry in `, el('strong', { id: 'retry-seconds' }, String(left)), ` s.`);
  };
  box.hidden = false;
  $('run').disabled = true;
  paint();
  retryTimer = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(retryTimer);
      box.textContent = 'You can run again now.';
      $('run').disabled = false;
      setTimeout(() => { if (!$('run').disabled) box.hidden = true; }, 4000);
      return;
    }
    paint();
  }, 1000);
}

function clearResult() {
  outEl.replaceChildren();
  delete outEl.dataset.done;
  delete outEl.dataset.jobId;
  $('figures').hidden = true;
  $('figures').replaceChildren();
  $('signature').hidden = true;
  $('outputs-box').hidden = true;
  $('output-files').replaceChildren();
  if (job) for (const u of job.blobs) URL.revokeObjectURL(u);
}

function manifest() {
  const lang = $('language').value;
  const m = {
    entrypoint: LANGS[lang].file,
    interpreter: lang,
    environment: $('environment').value || 'default',
    timeout: Number($('timeout').value) || 60,
    memory_mb: Number($('memory').value) || 512,
  };
  const args = splitArgs($('args').value);
  if (args.length) m.args = args;
  if ($('stdin').value) m.stdin = $('stdin').value;
  const outs = $('outputs').value.split(/\s+/).filter(Boolean);
  if (outs.length) m.outputs = outs;
  return m;
}

$('run-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if ($('run').disabled) return;
  let m;
  try {
    m = manifest();
  } catch (err) {
    setState(err.message, 'bad');
    return;
  }
  // multipart: the editor's text as the entrypoint, each extra file as a
  // "files" part of its own, the manifest as a field (docs/api.md, POST /submit).
  const fd = new FormData();
  fd.append('files', new Blob([getCode()], { type: 'text/plain' }), m.entrypoint);
  for (const f of extraFiles.values()) if (f.name !== m.entrypoint) fd.append('files', f, f.name);
  fd.append('manifest', JSON.stringify(m));
  $('run').disabled = true;
  if (job && !job.done) {
    // A new run: the previous one's stream stops writing here (it keeps running).
    job.done = true;
    if (job.es) job.es.close();
  }
  clearResult();
  setState('submitting', '');
  const r = await api('POST', '/submit', { body: fd });
  if (r.status === 429 || r.status === 503) {
    setState(r.status === 429 ? 'over the quota' : 'service busy', 'bad');
    showRetry(`${r.data.reason || r.data.error || 'Too many requests'}.`, r.retryAfter);
    refreshQuota();
    return;
  }
  $('run').disabled = false;
  if (r.status !== 200) {
    setState('refused', 'bad');
    appendOutput(errorText(r) + '\n', 'stderr');
    return;
  }
  job = { id: r.data.job_id, es: null, done: false, blobs: [] };
  outEl.dataset.jobId = job.id;
  $('cancel').disabled = false;
  setState('queued', '');
  follow(job);
  refreshQuota();
});

$('cancel').addEventListener('click', async () => {
  if (!job || job.done) return;
  const r = await api('DELETE', `/jobs/${job.id}`);
  if (r.status !== 200) appendOutput(`\n[cancel: ${errorText(r)}]\n`, 'stderr');
});

// The live output: the SSE stream replays and follows; on "end" the final
// status is shown. When the stream cannot be had (refused, cut for good),
// the page falls back to waiting on /status and reading /logs once.
function follow(j) {
  const es = new EventSource(`/logs/${j.id}/stream`);
  j.es = es;
  let last = null;
  es.addEventListener('status', (ev) => {
    try { last = JSON.parse(ev.data); } catch { return; }
    showStatus(last, false);
  });
  es.addEventListener('stdout', (ev) => appendOutput(ev.data, 'stdout'));
  es.addEventListener('stderr', (ev) => appendOutput(ev.data, 'stderr'));
  es.addEventListener('end', () => {
    es.close();
    finish(j, last);
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED && !j.done) fallback(j);
  };
}

async function fallback(j) {
  let st = null;
  for (let i = 0; i < 400 && !j.done; i++) {
    const r = await api('GET', `/status/${j.id}?wait=20`);
    if (r.status !== 200) break;
    st = r.data;
    showStatus(st, false);
    if (st.status !== 'queued' && st.status !== 'running') break;
  }
  const logs = await api('GET', `/logs/${j.id}?format=json`);
  if (logs.status === 200) {
    outEl.replaceChildren();
    appendOutput(logs.data.stdout || '', 'stdout');
    appendOutput(logs.data.stderr || '', 'stderr');
  }
  finish(j, st);
}

function showStatus(st, final) {
  if (!st || !st.status) return;
  let text = st.status;
  if (st.status === 'queued' && st.queue_position) text += ` (#${st.queue_position})`;
  if (st.reason && st.reason !== 'exit_code') text += ` · ${st.reason}`;
  const kind = st.status === 'completed' ? 'good' : (st.status === 'failed' || st.status === 'cancelled') ? 'bad' : 'busy';
  setState(text, final || kind !== 'busy' ? kind : 'busy');
  if (st.waiting_for) setState(`${text} · ${st.waiting_for}`, 'busy');
}

async function finish(j, last) {
  if (j.done) return;
  j.done = true;
  $('cancel').disabled = true;
  let st = last;
  if (!st || st.status === 'queued' || st.status === 'running') {
    const r = await api('GET', `/status/${j.id}`);
    if (r.status === 200) st = r.data;
  }
  refreshQuota();
  if (!st || !st.status) {
    setState('gone', 'bad');
    return;
  }
  showStatus(st, true);
  showFigures(st);
  showSignature(st);
  await showOutputs(j, st);
  outEl.dataset.done = st.status;
}

function showFigures(st) {
  const m = st.execution_metadata || {};
  const rows = [
    ['status', st.status + (st.reason ? ` (${st.reason})` : '')],
    ['exit code', m.signal ? `signal ${m.signal}` : m.exit_code],
    ['CPU', m.cpu_seconds !== undefined ? `${m.cpu_seconds} s` : undefined],
    ['wall', m.wall_seconds !== undefined ? `${m.wall_seconds} s` : undefined],
    ['memory peak', m.memory_peak_bytes !== undefined ? bytes(m.memory_peak_bytes) : undefined],
  ];
  if (st.error) rows.push(['error', st.error]);
  const dl = $('figures');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    if (v === undefined || v === null) continue;
    dl.append(el('div', {}, el('dt', { text: k }), el('dd', { text: String(v) })));
  }
  dl.hidden = false;
}

function showSignature(st) {
  const w = st.worker_metadata;
  const h = st.result_hashes;
  if (!w && !h) return;
  const dl = $('sig-list');
  dl.replaceChildren();
  const add = (k, v) => v && dl.append(el('dt', { text: k }), el('dd', {}, el('code', { text: v })));
  if (w) {
    add('worker id', w.worker_id);
    add('signature', w.signature);
  }
  if (h) for (const [k, v] of Object.entries(h)) add(k, v);
  $('signature').hidden = false;
}

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
const TEXT = /\.(txt|csv|tsv|json|md|log|py|js|sh|rb|r|pl|php|html|xml|ya?ml|ini|cfg|toml|out)$/i;
const PREFETCH_MAX = 20 * 1048576;

async function showOutputs(j, st) {
  const files = Object.entries(st.output_files || {});
  const list = $('output-files');
  list.replaceChildren();
  for (const [path, info] of files) {
    const li = el('li', { class: 'out-file' });
    list.append(li);
    const url = `/download/${j.id}/${encodePath(path)}`;
    const name = path.split('/').pop();
    const head = el('div', { class: 'out-head' });
    li.append(head);
    if (info.size > PREFETCH_MAX) {
      head.append(el('a', { href: url, download: name, text: path }), ` ${bytes(info.size)}`);
      continue;
    }
    // Fetched once and kept as a blob: the service deletes a job once all
    // its outputs were downloaded, and this page shows and offers them all.
    let blob;
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${res.status}`);
      blob = await res.blob();
    } catch (err) {
      head.append(`${path}: could not be fetched (${err.message})`);
      continue;
    }
    const type = IMAGE.test(path) ? (path.toLowerCase().endsWith('.svg') ? 'image/svg+xml' : '') : '';
    const obj = URL.createObjectURL(type ? new Blob([blob], { type }) : blob);
    j.blobs.push(obj);
    head.append(el('a', { href: obj, download: name, text: path }), ` ${bytes(info.size)}`);
    if (IMAGE.test(path)) {
      li.append(el('img', { src: obj, alt: `output ${path}`, class: 'out-img' }));
    } else if (TEXT.test(path) || blob.size < 65536) {
      const text = await blob.slice(0, 8192).text();
      if (TEXT.test(path) || !text.includes('\uFFFD')) {
        li.append(el('pre', { class: 'preview', tabindex: '0', 'aria-label': `preview of ${path}` },
          text + (blob.size > 8192 ? '\n…' : '')));
      }
    }
  }
  for (const s of st.outputs_not_kept || []) {
    list.append(el('li', { class: 'out-file skipped', text: `${s.path}: not kept (${s.kind})` }));
  }
  $('outputs-box').hidden = list.children.length === 0;
}

// ------------------------------------------------------------- sessions

let session = null;      // {id, status}
let treePath = '';       // relative to /work
let term = null;
let fit = null;
let ws = null;

function sessionButtons() {
  const s = session && session.status;
  $('s-create').disabled = !!session;
  $('s-pause').disabled = s !== 'ready';
  $('s-resume').disabled = s !== 'paused';
  $('s-snapshot').disabled = !session;
  $('s-end').disabled = !session;
  for (const id of ['tree-refresh', 'tree-upload']) $(id).disabled = !session;
  $('tree-up').disabled = !session || treePath === '';
  $('s-state').textContent = session ? `${s} · ${session.id.slice(0, 12)}…` : 'no session';
  $('s-state').className = `badge ${s === 'ready' ? 'good' : s === 'paused' ? 'busy' : ''}`;
  $('s-state').dataset.status = s || 'none';
  $('s-state').dataset.id = session ? session.id : '';
}

// The session this tab had before a reload, if it is still there.
async function restoreSession() {
  const id = sessionStorage.getItem('sandrun-session');
  if (!id || session) return;
  const r = await api('GET', `/sessions/${encodeURIComponent(id)}`);
  if (r.status !== 200 || session) {
    sessionStorage.removeItem('sandrun-session');
    return;
  }
  session = { id, status: r.data.status };
  sessionNote(`expires ${new Date(r.data.expires_at).toLocaleTimeString()}`);
  treePath = '';
  sessionButtons();
  refreshTree();
  openTerminal();
}

const sessionNote = (t) => { $('s-note').textContent = t; };

$('session-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (session) return;
  $('s-create').disabled = true;
  sessionNote('starting…');
  const r = await api('POST', '/sessions', {
    json: {
      environment: $('s-environment').value || 'default',
      memory_mb: Number($('s-memory').value) || 512,
      ttl_seconds: Number($('s-ttl').value) || 1800,
    },
  });
  if (r.status !== 201) {
    $('s-create').disabled = false;
    sessionNote(errorText(r) + (r.retryAfter ? ` (retry in ${r.retryAfter} s)` : ''));
    return;
  }
  session = { id: r.data.session_id, status: r.data.status };
  // A reload of the page finds its session again (this tab only).
  sessionStorage.setItem('sandrun-session', session.id);
  sessionNote(`expires ${new Date(r.data.expires_at).toLocaleTimeString()}`);
  treePath = '';
  sessionButtons();
  refreshTree();
  openTerminal();
  refreshQuota();
});

async function sessionAction(what) {
  if (!session) return;
  const r = await api('POST', `/sessions/${session.id}/${what}`);
  if (r.status === 200) {
    if (r.data.status) session.status = r.data.status;
    if (r.data.workspace_id) sessionNote(`snapshot ${r.data.workspace_id} (${bytes(r.data.size)}), kept until ${new Date(r.data.expires_at).toLocaleTimeString()}`);
    else sessionNote('');
  } else {
    sessionNote(errorText(r));
    if (r.status === 410 || r.status === 404) return sessionGone();
  }
  sessionButtons();
}
$('s-pause').addEventListener('click', () => sessionAction('pause'));
$('s-resume').addEventListener('click', () => sessionAction('resume'));
$('s-snapshot').addEventListener('click', () => sessionAction('snapshot'));
$('s-end').addEventListener('click', async () => {
  if (!session) return;
  const r = await api('DELETE', `/sessions/${session.id}`);
  sessionNote(r.status === 200 ? 'session ended' : errorText(r));
  sessionGone();
});

function sessionGone() {
  session = null;
  sessionStorage.removeItem('sandrun-session');
  if (ws) ws.close(1000, 'session ended');
  ws = null;
  $('tree').replaceChildren();
  sessionButtons();
  refreshQuota();
}

// The record's status now and then (pause from elsewhere, idle timeout).
setInterval(async () => {
  if (!session) return;
  const r = await api('GET', `/sessions/${session.id}`);
  if (!session) return;
  if (r.status === 200) {
    session.status = r.data.status;
    sessionButtons();
  } else if (r.status === 410 || r.status === 404) {
    sessionNote(r.data.reason || 'the session has ended');
    sessionGone();
  }
}, 5000);

// --- the workspace tree
const filesUrl = (rel) => `/sessions/${session.id}/files/${encodePath(rel)}`;
const join = (a, b) => (a ? `${a}/${b}` : b);

async function refreshTree() {
  if (!session) return;
  $('tree-path').textContent = '/work' + (treePath ? '/' + treePath : '');
  $('tree-up').disabled = treePath === '';
  const r = await api('GET', filesUrl(treePath));
  const ul = $('tree');
  if (r.status !== 200 || !Array.isArray(r.data.entries)) {
    ul.replaceChildren(el('li', { class: 'note', text: errorText(r) }));
    return;
  }
  const entries = r.data.entries.slice().sort((a, b) => (a.type === 'dir') - (b.type === 'dir') ? (b.type === 'dir') - (a.type === 'dir') : a.name.localeCompare(b.name));
  ul.replaceChildren(...entries.map((en) => {
    const rel = join(treePath, en.name);
    const li = el('li', { class: `entry ${en.type}`, 'data-name': en.name });
    if (en.type === 'dir') {
      li.append(el('button', { type: 'button', class: 'link', onclick: () => { treePath = rel; refreshTree(); } }, `${en.name}/`));
    } else {
      li.append(el('span', { class: 'name', text: en.name }), el('span', { class: 'size', text: bytes(en.size) }));
      if (en.type === 'file') {
        li.append(el('button', { type: 'button', class: 'small', 'aria-label': `Download ${en.name}`, onclick: () => downloadFile(rel, en.name) }, 'download'));
      }
    }
    li.append(el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${en.name}`, onclick: () => deleteFile(rel, en.type === 'dir') }, 'delete'));
    return li;
  }));
  if (!entries.length) ul.append(el('li', { class: 'note', text: '(empty)' }));
}

async function downloadFile(rel, name) {
  const res = await fetch(filesUrl(rel));
  if (!res.ok) {
    sessionNote(`download of ${name}: ${res.status}`);
    return;
  }
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
  sessionNote(`downloaded ${name}`);
}

async function deleteFile(rel, isDir) {
  if (isDir && !window.confirm(`Delete the directory ${rel} and everything in it?`)) return;
  const r = await api('DELETE', filesUrl(rel) + (isDir ? '?recursive=1' : ''));
  sessionNote(r.status === 200 ? `deleted ${rel}` : errorText(r));
  refreshTree();
}

$('tree-refresh').addEventListener('click', refreshTree);
$('tree-up').addEventListener('click', () => {
  treePath = treePath.includes('/') ? treePath.slice(0, treePath.lastIndexOf('/')) : '';
  refreshTree();
});
$('tree-upload').addEventListener('change', async (e) => {
  const files = [...e.target.files];
  e.target.value = '';
  for (const f of files) {
    const r = await api('PUT', filesUrl(join(treePath, f.name)), { body: f, headers: { 'Content-Type': 'application/octet-stream' } });
    sessionNote(r.status === 200 ? `uploaded ${f.name} (${bytes(r.data.size)})` : `${f.name}: ${errorText(r)}`);
  }
  refreshTree();
});

// --- the terminal (docs/api.md, the WebSocket GET /sessions/{id}/pty)
const termNote = (t) => { $('term-note').textContent = t; };

function fitTerminal() {
  if (!term || !fit || $('panel-session').hidden) return;
  try { fit.fit(); } catch { /* not laid out yet */ }
}

function openTerminal() {
  if (!session) return;
  if (!window.Terminal) {
    termNote('the terminal library did not load');
    return;
  }
  if (!term) {
    term = new window.Terminal({
      cursorBlink: true, fontSize: 14, scrollback: 2000, convertEol: false,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      theme: { background: '#111417', foreground: '#e6e6e6' },
    });
    fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open($('terminal'));
    term.textarea?.setAttribute('aria-label', 'Terminal input (F6 moves to the files)');
    // Every key goes to the shell (Tab completes, Esc is vi's) but F6,
    // which moves the focus on to the file tree, Shift-F6 back to the buttons.
    term.attachCustomKeyEventHandler((e) => {
      if (e.key !== 'F6') return true;
      if (e.type === 'keydown') {
        e.preventDefault();
        (e.shiftKey ? $('s-end') : $('tree-refresh')).focus();
      }
      return false;
    });
    const enc = new TextEncoder();
    term.onData((d) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d)); });
    term.onBinary((d) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const b = new Uint8Array(d.length);
      for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
      ws.send(b);
    });
    term.onResize(({ cols, rows }) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
    });
    new ResizeObserver(() => fitTerminal()).observe($('terminal'));
    window.sandrunPlayground.term = term;
  }
  fitTerminal();
  term.reset();
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}/sessions/${session.id}/pty?cols=${term.cols}&rows=${term.rows}`);
  sock.binaryType = 'arraybuffer';
  ws = sock;
  let opened = false;
  let said = null;       // the last control message: exit, ended or error
  termNote('connecting the terminal…');
  sock.onopen = () => { opened = true; };
  sock.onmessage = (ev) => {
    if (typeof ev.data !== 'string') {
      term.write(new Uint8Array(ev.data));
      return;
    }
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    if (m.type === 'ready') {
      delete $('terminal').dataset.error;
      termNote(m.started ? 'terminal ready' : 'terminal re-attached');
      $('terminal').dataset.state = 'ready';
      term.focus();
    } else if (m.type === 'paused') {
      termNote('the session is paused: what you type is not sent until Resume');
    } else if (m.type === 'exit') {
      said = m;
      termNote(`the shell exited (${m.code}); press Enter for a new one`);
    } else if (m.type === 'ended') {
      said = m;
      termNote(`the session ended (${m.reason})`);
    } else if (m.type === 'error') {
      said = m;
      $('terminal').dataset.error = `${m.status} ${m.error || ''}: ${m.reason || ''}`;
      termNote(`terminal: ${m.status} ${m.error}${m.reason ? ': ' + m.reason : ''}${m.retry_after ? ` (retry in ${m.retry_after} s)` : ''}; press Enter to try again`);
    }
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    $('terminal').dataset.state = 'closed';
    if (!opened) termNote('the terminal is not available on this service (no WebSocket gateway answered)');
    else if (!said && session) termNote(`terminal closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''}); press Enter to reconnect`);
    if (session && opened) {
      // Enter in the dead terminal opens a new one.
      const sub = term.onData((d) => {
        if (d === '\r' && !ws && session) {
          sub.dispose();
          openTerminal();
        }
      });
    }
  };
}
window.addEventListener('resize', fitTerminal);

// ------------------------------------------------------------------ start

window.sandrunPlayground = { term: null };
languageChanged();
$('example').value = 'hello';
$('example').dispatchEvent(new Event('change'));
sessionButtons();
refreshQuota();
loadEnvironments();
restoreSession();
