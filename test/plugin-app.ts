// A bare Fastify with the service's own error handler, validation and auth (and, when asked, the
// OpenAPI plugin): for testing one route plugin on its own, as the real app would serve it.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import type { DestinationStream } from 'pino';
import { loggerOptions } from '../src/app.js';
import { TokenTable } from '../src/auth/tokens.js';
import auth from '../src/plugins/auth.js';
import errors, { frameworkErrors, MAX_PARAM_LENGTH } from '../src/plugins/errors.js';
import openapi, { SHARED_SCHEMAS } from '../src/plugins/openapi.js';
import { schemaController } from '../src/plugins/validation.js';
import { TEST_TOKENS } from './helper.js';

export interface PluginAppOptions {
  /** Where the service log goes (with the service's own redaction), at trace level; none when absent. */
  log?: DestinationStream;
  /** Register the OpenAPI plugin (the spec and /docs); otherwise only the shared schemas. */
  withOpenApi?: boolean;
}

export async function buildPluginApp(options: PluginAppOptions = {}) {
  const app = Fastify({
    logger: options.log ? { ...loggerOptions('trace'), stream: options.log } : false,
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, useDefaults: true } },
    schemaController,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(errors);
  await app.register(auth, {
    tokens: new TokenTable([
      { token: TEST_TOKENS.write, scope: 'write' },
      { token: TEST_TOKENS.read, scope: 'read' },
    ]),
  });
  if (options.withOpenApi) await app.register(openapi);
  else for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  return app;
}
