// Sandrun's POST /mcp driven by the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk): its Client over its Streamable HTTP client
// transport, through the stack's TLS (NODE_EXTRA_CA_CERTS names the test
// CA). Lists the tools, compiles every input schema with ajv, and drives
// each tool: run_code (a Python program that prints and writes a file; one
// that exits 3; bad arguments), the job tools, and a session loop.
// Prints TAP: one line per check. Usage: node mcp-client.mjs https://host:port
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import { done, ok } from './tap.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node mcp-client.mjs BASE-URL');
  process.exit(2);
}


// A tool call's structured result (the text block holds the same JSON).
async function call(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  let text = null;
  try {
    text = JSON.parse(r.content?.[0]?.text ?? 'null');
  } catch {
    text = null;
  }
  return { r, s: r.structuredContent, text };
}

const client = new Client({ name: 'sandrun-mcp-test', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL('/mcp', base));
try {
  await client.connect(transport);
  ok(true, 'the SDK client connects (initialize, initialized)');
} catch (e) {
  ok(false, 'the SDK client connects (initialize, initialized)', String(e));
  done();
}
ok(client.getServerVersion()?.name === 'sandrun', 'serverInfo names sandrun', client.getServerVersion());
ok(typeof transport.sessionId === 'string' && /^mcp-[a-z2-7]{26}$/.test(transport.sessionId),
  'initialize issued an Mcp-Session-Id', transport.sessionId);
ok(client.getServerCapabilities()?.tools !== undefined, 'the server declares the tools capability');

// --- tools/list and the schemas
const { tools } = await client.listTools();
const want = ['run_code', 'submit_job', 'job_status', 'job_logs', 'session_create', 'session_exec',
  'session_write_file', 'session_read_file', 'session_list_files', 'session_delete'];
ok(JSON.stringify(tools.map((t) => t.name).sort()) === JSON.stringify([...want].sort()),
  'tools/list lists the ten tools of SPEC §8', tools.map((t) => t.name));
const ajv = new Ajv({ strict: true, allErrors: true });
for (const t of tools) {
  const s = t.inputSchema;
  const props = Object.keys(s?.properties ?? {});
  const shape = s?.type === 'object' && props.length > 0 &&
    (s.required ?? []).every((r) => props.includes(r)) && s.additionalProperties === false;
  let compiled = null;
  try {
    compiled = ajv.compile(s);
  } catch (e) {
    compiled = String(e);
  }
  ok(shape && typeof compiled === 'function' && typeof t.description === 'string' &&
    t.description.length > 20 && t.description.length < 300,
  `${t.name}: an object schema (required within properties) that ajv compiles strictly, one-line description`,
  { s, compiled: typeof compiled === 'function' ? 'ok' : compiled });
}
const runCodeSchema = ajv.compile(tools.find((t) => t.name === 'run_code').inputSchema);
ok(runCodeSchema({ code: 'print(1)', language: 'python3', files: { 'a.txt': 'x' }, timeout: 10 }) &&
  !runCodeSchema({ language: 'python3' }) && !runCodeSchema({ code: 'x', bogus: 1 }),
'the run_code schema takes a good call and refuses a missing code and an unknown argument');

// --- run_code
let { r, s, text } = await call(client, 'run_code', {
  language: 'python3',
  code: 'import sys\nprint("hello from mcp")\nprint(open("data.txt").read().strip(), file=sys.stderr)\n' +
    'open("result.txt", "w").write("42\\n")\n',
  files: { 'data.txt': 'inline input\n' },
  timeout: 60,
});
ok(r.isError === false && s?.status === 'completed' && s?.exit_code === 0,
  'run_code: a Python program completes with exit code 0', s);
ok(s?.stdout === 'hello from mcp\n', 'run_code: stdout comes back', s?.stdout);
ok(s?.stderr === 'inline input\n', 'run_code: the inline file was there (its text on stderr)', s?.stderr);
ok(Array.isArray(s?.output_files) && s.output_files.some((f) => f.path === 'result.txt' && f.size === 3) &&
  !s.output_files.some((f) => f.path === 'data.txt' || f.path === 'main.py'),
'run_code: the output file is listed (inputs are not)', s?.output_files);
ok(JSON.stringify(text) === JSON.stringify(s), 'run_code: the text block carries the same JSON as structuredContent');
const dl = s?.output_files?.find((f) => f.path === 'result.txt')?.download;
if (dl) {
  const body = await (await fetch(new URL(dl, base))).text();
  ok(body === '42\n', 'run_code: the output file downloads from its download path', body);
} else {
  ok(false, 'run_code: the output file downloads from its download path', s);
}

({ r, s } = await call(client, 'run_code', { code: 'import sys\nprint("bye")\nsys.exit(3)\n' }));
ok(r.isError === false && s?.status === 'failed' && s?.reason === 'exit_code' && s?.exit_code === 3 &&
  s?.stdout === 'bye\n', 'run_code: a program exiting 3 is reported as failed with exit code 3', s);

({ r, s } = await call(client, 'run_code', { code: 'print(1)', language: 'cobol' }));
ok(r.isError === true && s?.field === 'language' && /language/.test(s?.reason ?? ''),
  'run_code: a language outside the enum is an isError result naming language', s);
({ r, s } = await call(client, 'run_code', { code: 'print(1)', memory_mb: 1 }));
ok(r.isError === true && s?.field === 'memory_mb' && s?.http_status === 400,
  'run_code: memory_mb below the service minimum is the route\'s 400 naming memory_mb', s);
({ r, s } = await call(client, 'run_code', { code: 'print(1)', files: { '../x': 'y' } }));
ok(r.isError === true && s?.http_status === 400 && typeof s?.reason === 'string',
  'run_code: an inline file outside the tree is refused (400)', s);
({ r, s } = await call(client, 'run_code', {}));
ok(r.isError === true && s?.field === 'code', 'run_code: no code is an isError result naming code', s);

try {
  await client.callTool({ name: 'no_such_tool', arguments: {} });
  ok(false, 'an unknown tool is a JSON-RPC error -32602');
} catch (e) {
  ok(e?.code === -32602, 'an unknown tool is a JSON-RPC error -32602', { code: e?.code, message: e?.message });
}

// --- the job tools
({ r, s } = await call(client, 'submit_job', {
  files: { 'job.py': 'import time\ntime.sleep(1)\nprint("queued job")\n' },
  entrypoint: 'job.py',
}));
const jobId = s?.job_id;
ok(r.isError === false && /^job-[a-z2-7]{26}$/.test(jobId ?? '') && s?.status === 'queued',
  'submit_job: queued, with a job id', s);
({ r, s } = await call(client, 'job_status', { job_id: jobId, wait: 30 }));
ok(r.isError === false && s?.status === 'completed' && s?.execution_metadata?.exit_code === 0,
  'job_status with wait: the job completed', s);
({ r, s } = await call(client, 'job_logs', { job_id: jobId }));
ok(r.isError === false && s?.stdout === 'queued job\n', 'job_logs: the job\'s stdout', s);
({ r, s } = await call(client, 'job_status', { job_id: 'job-aaaaaaaaaaaaaaaaaaaaaaaaaa' }));
ok(r.isError === true && s?.http_status === 404, 'job_status: an unknown job is an isError 404', s);

// --- a session loop
({ r, s } = await call(client, 'session_create', {}));
const sid = s?.session_id;
ok(r.isError === false && /^ses-[a-z2-7]{26}$/.test(sid ?? '') && s?.status === 'ready',
  'session_create: ready, with a session id', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, command: 'mkdir -p proj && cd proj && export GREETING=hi' }));
ok(r.isError === false && s?.exit_code === 0 && s?.cwd === '/work/proj', 'session_exec: cd and export', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, command: 'echo "$GREETING from $(pwd)"' }));
ok(s?.stdout === 'hi from /work/proj\n', 'session_exec: cd and export persist to the next call', s);
({ r, s } = await call(client, 'session_write_file', { session_id: sid, path: 'proj/notes é.txt', content: 'line one\n' }));
ok(r.isError === false, 'session_write_file: written', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, command: 'cat "notes é.txt"' }));
ok(s?.stdout === 'line one\n', 'session_exec sees the written file', s);
({ r, s } = await call(client, 'session_read_file', { session_id: sid, path: 'proj/notes é.txt' }));
ok(r.isError === false && s?.content === 'line one\n' && s?.truncated === false, 'session_read_file: the text', s);
({ r, s } = await call(client, 'session_list_files', { session_id: sid, path: 'proj' }));
ok(r.isError === false && s?.entries?.some((e) => e.name === 'notes é.txt' && e.type === 'file' && e.size === 9),
  'session_list_files: the file is listed', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, code: 'x = 20', language: 'python3' }));
({ r, s } = await call(client, 'session_exec', { session_id: sid, code: 'print(x * 2 + 2)', language: 'python3' }));
ok(s?.stdout === '42\n', 'session_exec: python3 code keeps its variables', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, command: 'exit 7' }));
ok(r.isError === false && s?.exit_code === 7, 'session_exec: a failing command reports its exit code', s);
({ r, s } = await call(client, 'session_read_file', { session_id: sid, path: '../etc/passwd' }));
ok(r.isError === true && s?.http_status === 400 && s?.field === 'path', 'session_read_file: .. is a 400 naming path', s);
({ r, s } = await call(client, 'session_delete', { session_id: sid }));
ok(r.isError === false, 'session_delete: ended', s);
({ r, s } = await call(client, 'session_exec', { session_id: sid, command: 'true' }));
ok(r.isError === true && (s?.http_status === 404 || s?.http_status === 410),
  'session_exec on the deleted session: an isError 404 or 410', s);

await client.close();
ok(true, 'the client closes');
done();
