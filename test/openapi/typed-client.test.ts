// A typed client generated from the committed document, as a user would make one (issue 14):
// openapi-typescript with its default options, openapi-fetch, a strict compile of a program that
// passes only what is required (start, wait, logs, list, stop, delete), then that program run
// against a live service over a real socket.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import ts from 'typescript';
import { buildApp } from '../../src/app.js';
import { TEST_TOKENS, tempDir, testConfig } from '../helper.js';
import { binOf, runTool } from './tools.js';

const PROGRAM = `
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const client = createClient<paths>({
  baseUrl: process.env.BASE_URL ?? '',
  headers: { authorization: \`Bearer \${process.env.TOKEN ?? ''}\` },
});
const workingDirectory = process.env.WORKDIR ?? '';

// Only the required fields: the server applies every default.
const started = await client.POST('/v1/sessions', { body: { name: 'typed client', working_directory: workingDirectory } });
if (!started.data) throw new Error(\`start: \${started.response.status} \${started.error?.code}\`);
const id: string = started.data.id;
const path = { path: { id } };

const waited = await client.POST('/v1/sessions/{id}/wait', { params: path });
const logs = await client.GET('/v1/sessions/{id}/logs', { params: path });
const list = await client.GET('/v1/sessions');
const stopped = await client.POST('/v1/sessions/{id}/stop', { params: path });
const deleted = await client.DELETE('/v1/sessions/{id}', { params: path });
const gone = await client.GET('/v1/sessions/{id}', { params: path });

const report = {
  started: started.response.status,
  location: started.response.headers.get('location'),
  status: waited.data?.status,
  exitCode: waited.data?.exit_code,
  stdout: logs.data?.stdout,
  listed: list.data?.items.some((session) => session.id === id),
  stopped: stopped.data?.status,
  deleted: deleted.response.status,
  goneCode: gone.error?.code,
};
process.stdout.write(JSON.stringify(report));
`;

const run = (file: string, env: Record<string, string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [file], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

t.test('openapi-typescript + openapi-fetch: a strict program with only required fields compiles and runs', async (t) => {
  // The client lives in its own folder, as in a user's project: node_modules is ours (linked).
  const dir = await tempDir(t, 'sessiond-typed-client-');
  await fs.symlink(path.join(process.cwd(), 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));

  const generated = await runTool(binOf('openapi-typescript', 'openapi-typescript'), [path.join(process.cwd(), 'openapi', 'openapi.json'), '-o', path.join(dir, 'api.ts')], dir);
  t.equal(generated.code, 0, `openapi-typescript generates the types with its default options ${generated.stderr.slice(-500)}`);

  const source = path.join(dir, 'program.ts');
  await fs.writeFile(source, PROGRAM);
  const program = ts.createProgram([source], {
    strict: true,
    noUncheckedIndexedAccess: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    outDir: dir,
    rootDir: dir,
    // The generated api.ts and the program are checked; the libraries' own .d.ts are not our concern.
    skipLibCheck: true,
  });
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]
    .filter((d) => !d.file || d.file.fileName.startsWith(dir))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.same(diagnostics, [], 'the program compiles, strict, with no error');

  // A live service whose default command prints a line and exits: the start needs nothing more.
  const config = await testConfig(t);
  const root = config.workspaceRoots[0] as string;
  const hello = path.join(root, 'hello.sh');
  await fs.writeFile(hello, '#!/bin/sh\necho hello from a typed client\n', { mode: 0o755 });
  const app = await buildApp({ config: { ...config, allowedCommands: [hello], defaultCommand: hello }, logger: false, forceCloseConnections: true });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;

  const result = await run(path.join(dir, 'program.js'), { BASE_URL: `http://127.0.0.1:${port}`, TOKEN: TEST_TOKENS.write, WORKDIR: root });
  t.equal(result.code, 0, `the program runs ${result.stderr.slice(-800)}`);
  const report = JSON.parse(result.stdout || '{}');
  t.equal(report.started, 201, 'start: 201');
  t.match(report.location, /^\/v1\/sessions\/typed-client-/, 'with its Location');
  t.equal(report.status, 'exited', 'wait: the session ended by itself');
  t.equal(report.exitCode, 0, 'with exit code 0');
  t.equal(report.stdout, 'hello from a typed client\n', 'logs: what it printed');
  t.equal(report.listed, true, 'list: it is there');
  t.equal(report.stopped, 'exited', 'stop: an ended session answers unchanged');
  t.equal(report.deleted, 204, 'delete: 204');
  t.equal(report.goneCode, 'session_not_found', 'then it is gone, as a typed problem');
});
