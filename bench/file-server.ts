// A reference for the replay bench: the plainest Node HTTP file server (node:http and
// fs.createReadStream piped to the response), in its own process like sessiond.
// Usage: node file-server.js <file>; prints the port it listens on (127.0.0.1), then serves the
// file on every request until SIGTERM.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: file-server.js <file>\n');
  process.exit(2);
}

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': statSync(file).size });
  createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
