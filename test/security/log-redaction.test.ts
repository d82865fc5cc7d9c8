// No token in the service log, whatever its spelling (issue 9, point 3). v1 redacted with a
// regex on the raw URL, so `?access%5Ftoken=` and `?%61ccess_token=` authenticated (the query
// parser decodes keys) but were logged as sent. Each spelling goes over a real socket exactly as
// written; the real pino output is captured; whether auth took the token must agree with what
// the router's parser makes of the query, and the token must be nowhere in the log.
import net from 'node:net';
import t from 'tap';
import { buildApp, parseQuery, redactUrl } from '../../src/app.js';
import { TEST_TOKENS, authHeader, testConfig } from '../helper.js';
import { createFakeProcessAdapter } from '../fakes/fake-processes.js';
import { createMemoryStore } from '../fakes/memory-store.js';

const TOKEN = TEST_TOKENS.read;
/** Every character percent-encoded: the parser decodes it back to the token. */
const ENCODED_TOKEN = [...TOKEN].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');

/** Sends a GET with the request target exactly as given; resolves with the status code. */
function rawGet(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    let head = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      head += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no status line for ${target}: ${JSON.stringify(head)}`)));
  });
}

/** Whether the router's parser hands auth `access_token` as one string (the URL split as the router splits it). */
function authSees(target: string): boolean {
  const cut = target.search(/[?#]/);
  return cut > 0 && typeof parseQuery(target.slice(cut + 1)).access_token === 'string';
}

t.test('no spelling of ?access_token= reaches the log; auth takes exactly the spellings the parser decodes', async (t) => {
  const lines: string[] = [];
  const config = await testConfig(t);
  const processes = createFakeProcessAdapter();
  const app = await buildApp({ config, store: createMemoryStore(), processes, logger: { level: 'trace', stream: { write: (l: string) => lines.push(l) } } });
  t.teardown(() => app.close());
  const started = await app.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers: authHeader('write'),
    payload: { name: 'x', working_directory: config.workspaceRoots[0], command: 'bash', args: [] },
  });
  const id = started.json().id as string;
  // Ended, so each stream answers its whole (empty) log and ends at once.
  await processes.exit(id, 0);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as net.AddressInfo).port;
  const sse = `/v1/sessions/${id}/logs/stream`;
  const raw = `/v1/sessions/${id}/logs/stdout`;

  const cases: Array<[target: string, accepted: boolean, what: string]> = [
    [`${sse}?access_token=${TOKEN}`, true, 'plain'],
    [`${sse}?access%5Ftoken=${TOKEN}`, true, 'the underscore encoded'],
    [`${sse}?%61ccess_token=${TOKEN}`, true, 'the first letter encoded'],
    [`${sse}?%61%63%63%65%73%73%5F%74%6F%6B%65%6E=${TOKEN}`, true, 'the whole key encoded'],
    [`${sse}?from=start&access_token=${ENCODED_TOKEN}`, true, 'the value encoded'],
    [`${sse}?access_token=${TOKEN}&from=start`, true, 'with another parameter after it'],
    [`${sse}#access_token=${TOKEN}`, true, 'after # (the router splits there too)'],
    [`${raw}?follow=true&%61ccess_token=${TOKEN}`, true, 'raw follow, encoded key'],
    [`${sse}?access_token=nope&access_token=${TOKEN}`, false, 'repeated (an array: not a token)'],
    [`${sse}?ACCESS_TOKEN=${TOKEN}`, false, 'upper case (another key)'],
    [`${sse}?access+token=${TOKEN}`, false, '+ is a space'],
    [`${sse}?from=start;access_token=${TOKEN}`, false, '; is no separator for the parser'],
    [`${sse};access_token=${TOKEN}`, false, '; in the path'],
    [`${raw}?access_token=${TOKEN}`, false, 'raw without follow takes no query token'],
  ];
  for (const [target, accepted, what] of cases) {
    const status = await rawGet(port, target);
    t.equal(status === 200, accepted, `${what}: ${accepted ? 'accepted' : 'refused'} (${status})`);
    if (target.startsWith(sse)) t.equal(authSees(target), accepted, `${what}: the parser agrees`);
    t.notMatch(redactUrl(target), /test-read-token/, `${what}: redactUrl removes it`);
  }
  await app.close();

  const log = lines.join('');
  const incoming = lines.filter((line) => line.includes('"request":{'));
  t.ok(incoming.length >= cases.length, `every request was logged (${incoming.length} lines)`);
  t.notOk(log.includes(TOKEN), 'the token is not in the log');
  t.notOk(log.includes('test-read-token'), 'nor any part of it');
  t.notOk(log.toLowerCase().includes(ENCODED_TOKEN.toLowerCase()), 'nor its encoded spelling');
  t.ok(incoming.filter((line) => line.includes('[redacted]')).length >= cases.length - 1, 'each logged URL says where a credential was');
});

t.test('the logged URL keeps what is not a credential', async (t) => {
  t.equal(redactUrl('/v1/sessions?status=running&status=failed&limit=5'), '/v1/sessions?status=running&status=failed&limit=5');
  t.equal(redactUrl('/v1/sessions/a-1/logs/stream?streams=stdout,stderr&from=start'), '/v1/sessions/a-1/logs/stream?streams=stdout,stderr&from=start');
  t.equal(redactUrl('/v1/sessions/a-1'), '/v1/sessions/a-1');
  t.equal(redactUrl('/x?%61ccess_token=abc&from=tail'), '/x?access_token=[redacted]&from=tail');
  t.equal(redactUrl('/x?api_key=1&secret=2&password=3'), '/x?api_key=[redacted]&secret=[redacted]&password=[redacted]');
});
