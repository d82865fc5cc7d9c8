// A webhook receiver for sessiond: verifies each delivery with the Standard Webhooks library and
// prints the event. Run: WEBHOOK_SECRET=whsec_... PORT=8080 node examples/webhook-receiver.mjs
// (npm install standardwebhooks, or run it from a sessiond checkout, which has it).
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const webhook = new Webhook(process.env.WEBHOOK_SECRET ?? '');
const seen = new Set(); // webhook-id: a retry of a delivery we already took is answered, not redone

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let event;
      try {
        // Checks webhook-signature against the body, webhook-id and webhook-timestamp (5 min tolerance).
        event = webhook.verify(body, req.headers);
      } catch {
        res.writeHead(400).end('bad signature\n');
        return;
      }
      const id = req.headers['webhook-id'];
      if (!seen.has(id)) {
        seen.add(id);
        console.log(JSON.stringify({ id, type: event.type, seq: event.seq, session: event.session?.id, status: event.session?.status }));
      }
      res.writeHead(204).end();
    });
  })
  .listen(Number(process.env.PORT ?? 8080), '127.0.0.1', function () {
    console.error(`listening on http://127.0.0.1:${this.address().port}`);
  });
