// `sandrun mcp` (clients/python/sandrun/mcp_stdio.py), the stdio MCP server
// a desktop agent starts, driven by the official MCP TypeScript SDK's
// Client over its StdioClientTransport: the SDK spawns the command, as
// Claude Desktop does from its config, and everything it asks reaches the
// stack's POST /mcp through it. Lists the tools, runs code, and drives a
// session loop. Prints TAP, one line per check.
// Usage: node mcp-stdio.mjs PYTHON CLIENTS-PYTHON-DIR
// (SANDRUN_URL and SANDRUN_CACERT in the environment name the stack.)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { done, ok } from './tap.mjs';

const [python, pkgdir] = process.argv.slice(2);
if (!python || !pkgdir || !process.env.SANDRUN_URL) {
  console.error('usage: SANDRUN_URL=... SANDRUN_CACERT=... node mcp-stdio.mjs PYTHON CLIENTS-PYTHON-DIR');
  process.exit(2);
}


const transport = new StdioClientTransport({
  command: python,
  args: ['-m', 'sandrun', 'mcp'],
  env: {
    PATH: '/usr/bin:/bin',
    PYTHONPATH: pkgdir,
    SANDRUN_URL: process.env.SANDRUN_URL,
    SANDRUN_CACERT: process.env.SANDRUN_CACERT ?? '',
  },
  stderr: 'inherit',
});
const client = new Client({ name: 'sandrun-stdio-test', version: '1.0.0' });
try {
  await client.connect(transport);
  ok(true, 'sandrun mcp: the SDK client connects over stdio (initialize, initialized)');
} catch (e) {
  ok(false, 'sandrun mcp: the SDK client connects over stdio (initialize, initialized)', String(e));
  done();
}

try {
  ok(client.getServerVersion()?.name === 'sandrun', 'sandrun mcp: serverInfo is the service\'s', client.getServerVersion());
  const { tools } = await client.listTools();
  ok(tools.length === 10 && tools.some((t) => t.name === 'run_code'), 'sandrun mcp: tools/list gives the ten tools',
    tools.map((t) => t.name));

  let r = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'print(6 * 7)' } });
  ok(!r.isError && r.structuredContent?.stdout?.trim() === '42' && r.structuredContent?.exit_code === 0,
    'sandrun mcp: run_code prints 42, exit code 0', r);
  r = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'raise SystemExit(3)' } });
  ok(r.structuredContent?.exit_code === 3, 'sandrun mcp: a failing program reports exit code 3', r);
  r = await client.callTool({ name: 'run_code', arguments: { language: 'python', code: 'x', timeout: -1 } });
  ok(r.isError === true, 'sandrun mcp: a bad argument is an isError result, not a transport failure', r);

  r = await client.callTool({ name: 'session_create', arguments: {} });
  const sid = r.structuredContent?.session_id;
  ok(!r.isError && /^ses-/.test(sid ?? ''), 'sandrun mcp: session_create', r);
  r = await client.callTool({ name: 'session_exec', arguments: { session_id: sid, command: 'cd /tmp && export X=7' } });
  r = await client.callTool({ name: 'session_exec', arguments: { session_id: sid, command: 'echo "$PWD $X"' } });
  ok(r.structuredContent?.stdout?.trim() === '/tmp 7', 'sandrun mcp: the session keeps cwd and variables', r);
  r = await client.callTool({ name: 'session_delete', arguments: { session_id: sid } });
  ok(!r.isError, 'sandrun mcp: session_delete', r);
  r = await client.callTool({ name: 'session_exec', arguments: { session_id: sid, command: 'true' } });
  ok(r.isError === true, 'sandrun mcp: the deleted session is gone (isError)', r);
} catch (e) {
  ok(false, 'sandrun mcp: no exception', String(e?.stack ?? e));
}
await client.close();
done();
