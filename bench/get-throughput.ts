// Requests per second of one GET path under a fixed number of keep-alive connections, from a
// client in this process. Used for sessiond's GET of a running session against bare Fastify.
import http from 'node:http';

export interface Throughput {
  requests: number;
  seconds: number;
  perSecond: number;
  errors: number;
}

/** `connections` loops, each sending the next request as soon as the previous answered. */
export async function measureGets(url: string, headers: Record<string, string>, connections: number, ms: number): Promise<Throughput> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(url);
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + ms;
  const once = () =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: target.hostname, port: target.port, path: target.pathname + target.search, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) requests += 1;
          else errors += 1;
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) await once();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests, seconds, perSecond: requests / seconds, errors };
}
