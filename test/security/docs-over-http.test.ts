// /docs over plain HTTP from a LAN address (issue 14, point 5): helmet's HSTS and CSP
// `upgrade-insecure-requests` made a browser rewrite the page's assets to https, so it stayed
// blank. They are sent only with SESSIOND_TLS=behind-proxy. Requests go over a real socket with
// the Host header a browser on the LAN sends.
import http from 'node:http';
import type net from 'node:net';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../helper.js';

const LAN_HOST = '192.168.1.20:7070';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { host: LAN_HOST } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

async function serve(t: Test, env: Record<string, string> = {}): Promise<number> {
  const app = await buildApp({ config: await testConfig(t, env), logger: false, forceCloseConnections: true });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/** The page and every script and stylesheet it loads, as a browser would fetch them from /docs/. */
async function docsAndAssets(port: number): Promise<Array<[string, Answer]>> {
  const page = await get(port, '/docs/');
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1] as string, `http://${LAN_HOST}/docs/`).pathname);
  const out: Array<[string, Answer]> = [['/docs/', page]];
  for (const asset of assets) out.push([asset, await get(port, asset)]);
  // swagger-initializer.js then loads the document itself.
  out.push(['/openapi.json', await get(port, '/openapi.json')]);
  return out;
}

t.test('plain HTTP (the default): /docs and its assets load from a LAN address, nothing upgrades to https', async (t) => {
  const port = await serve(t);
  const answers = await docsAndAssets(port);
  t.ok(answers.length >= 5, `the page names its scripts and styles (${answers.map(([p]) => p).join(', ')})`);
  t.ok(answers.some(([p]) => p.endsWith('.js')) && answers.some(([p]) => p.endsWith('.css')), 'scripts and stylesheets');
  for (const [path, answer] of answers) {
    t.equal(answer.status, 200, `${path} loads`);
    t.notOk(answer.headers['strict-transport-security'], `${path}: no HSTS`);
    t.notMatch(String(answer.headers['content-security-policy'] ?? ''), /upgrade-insecure-requests/, `${path}: no upgrade-insecure-requests`);
  }
  t.match(String(answers[0]?.[1].headers['content-security-policy']), /script-src 'self'/, 'the page keeps its strict CSP otherwise');
  const api = await get(port, '/healthz');
  t.notOk(api.headers['strict-transport-security'], 'the API: no HSTS either');
  t.notMatch(String(api.headers['content-security-policy']), /upgrade-insecure-requests/);
  t.match(String(api.headers['content-security-policy']), /default-src 'none'/, 'and its CSP stays what a JSON API needs');
});

t.test('SESSIOND_TLS=behind-proxy: HSTS and upgrade-insecure-requests are sent', async (t) => {
  const port = await serve(t, { SESSIOND_TLS: 'behind-proxy' });
  const docs = await get(port, '/docs/');
  t.match(String(docs.headers['content-security-policy']), /upgrade-insecure-requests/, '/docs upgrades');
  t.match(String(docs.headers['strict-transport-security']), /max-age=\d+/, '/docs HSTS');
  const api = await get(port, '/healthz');
  t.match(String(api.headers['content-security-policy']), /upgrade-insecure-requests/, 'the API upgrades');
  t.match(String(api.headers['strict-transport-security']), /max-age=\d+/, 'the API HSTS');
});
