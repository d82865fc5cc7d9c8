// The server as npm start runs it (src/node-flags.ts) keeps V8's young generation at two 8 MiB
// halves under load, instead of the 2 x 16 MiB Node grows it to: 16 MiB of RSS for nothing.
// Shown from the server's own /metrics after a load that grows it to the default's maximum.
import t from 'tap';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';
import { TEST_TOKENS } from '../helper.js';
import { deploy } from './server-process.js';

const MiB = 1024 * 1024;

t.test('under a load of reads, the young generation stays within 2 x 8 MiB', async (t) => {
  t.ok(SERVER_NODE_FLAGS.includes('--max-semi-space-size=8'));
  const d = await deploy(t, { env: { SESSIOND_RATE_LIMIT: '1000000' } });
  const server = await d.start();
  const session = await d.run('sleep 30');
  // Reads and list pages from 8 connections at once: enough allocation, and enough of it alive
  // at each collection, for Node's default to grow the young generation to its 32 MiB.
  let done = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 400; i++) {
        const res = await server.request('GET', i % 2 === 0 ? `/v1/sessions/${session.id}` : '/v1/sessions?limit=200');
        if (res.status !== 200) throw new Error(`read answered ${res.status}`);
        done++;
      }
    }),
  );
  t.equal(done, 3200);
  const metrics = await server.request('GET', '/metrics', { headers: { authorization: `Bearer ${TEST_TOKENS.read}` } });
  const newSpace = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics.text)?.[1]);
  t.ok(newSpace > 0, 'the young generation is reported');
  t.ok(newSpace <= 16 * MiB, `the young generation holds ${(newSpace / MiB).toFixed(1)} MiB, at most 16`);
  await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 0 } });
});
