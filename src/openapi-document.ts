// The OpenAPI document as the routes generate it, formatted as committed in openapi/openapi.json.
import { buildApp } from './app.js';
import { loadConfig } from './config.js';

export async function buildOpenApiDocument(scratchDir: string): Promise<string> {
  // A throwaway data dir: generating the spec must not depend on, or touch, real state.
  const config = loadConfig({ SESSIOND_DATA_DIR: scratchDir }, scratchDir);
  const app = await buildApp({ config, logger: false });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
