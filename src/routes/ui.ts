// The web console at /ui/: four static files, read once at start-up and served with a CSP that
// allows only this origin's own script, style and connections (the page has no inline script).
// The page itself needs no token; everything it shows comes from the API with the user's token.
import { readFile } from 'node:fs/promises';
import type { FastifyContextConfig, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { AuthRouteConfig } from '../plugins/auth.js';

export interface UiRoutesOptions {
  /** The folder holding index.html, console.js and console.css. */
  dir: URL;
}

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
} as const;

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, { dir }) => {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const [name, type] of Object.entries(FILES)) files.set(name, { type, body: await readFile(new URL(name, dir)) });

  const send = (name: string) => async (_request: unknown, reply: FastifyReply) => {
    const file = files.get(name);
    if (!file) return reply.callNotFound();
    // Set in onSend by the security headers too late to matter: this one is the page's own.
    return reply.header('content-security-policy', CSP).header('cache-control', 'no-cache').type(file.type).send(file.body);
  };
  // No token for the page itself (the auth plugin reads `public`); not an API operation.
  const publicConfig: AuthRouteConfig = { public: true };
  const options = { schema: { hide: true }, config: publicConfig as FastifyContextConfig };
  // /ui and /ui/ alike (the router ignores a trailing slash).
  app.get('/ui/', options, send('index.html'));
  for (const name of Object.keys(FILES)) app.get(`/ui/${name}`, options, send(name));
};
