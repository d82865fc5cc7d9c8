// Signing: secrets look as Standard Webhooks says, and what we sign verifies with the
// standardwebhooks package's own verify (and fails with another secret or a changed body).
import t from 'tap';
import { Webhook } from 'standardwebhooks';
import { createSecret, signatureHeaders } from '../../src/events/webhooks/signer.js';

t.test('a secret is whsec_ and base64 of at least 24 random bytes, never the same twice', async (t) => {
  const secrets = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const secret = createSecret();
    t.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
    t.ok(Buffer.from(secret.slice(6), 'base64').length >= 24, 'at least 24 bytes');
    secrets.add(secret);
  }
  t.equal(secrets.size, 50);
});

t.test('signatures verify with the standardwebhooks package', async (t) => {
  const secret = createSecret();
  const body = JSON.stringify({ seq: 7, type: 'session.ended', time: '2026-01-01T00:00:00.000Z', session: { id: 'a', name: 'é ✓' } });
  const now = new Date();
  const headers = signatureHeaders(secret, 'msg_wh_abc_7', now, body);
  t.equal(headers['webhook-id'], 'msg_wh_abc_7');
  t.equal(headers['webhook-timestamp'], String(Math.floor(now.getTime() / 1000)), 'unix seconds');
  t.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+={0,2}$/);
  t.same(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body), 'verifies and yields the event');

  t.throws(() => new Webhook(createSecret()).verify(body, { ...headers }), 'another secret does not verify');
  t.throws(() => new Webhook(secret).verify(body.replace('7', '8'), { ...headers }), 'a changed body does not verify');
  t.throws(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_wh_abc_8' }), 'a changed webhook-id does not verify');
  const old = signatureHeaders(secret, 'msg_wh_abc_7', new Date(Date.now() - 3600_000), body);
  t.throws(() => new Webhook(secret).verify(body, { ...old }), 'an hour-old timestamp is refused by a receiver (replay)');
});
