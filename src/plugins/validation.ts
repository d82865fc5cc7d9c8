// Request validation: query strings, params and headers are text, so they are coerced to the
// schema's types (`?limit=5`); JSON bodies already have types, so they are not (`"args": [1]` is 400).
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

const pool = AjvCompiler();

type Factory = ReturnType<typeof AjvCompiler>;

export const schemaController: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator: ((externalSchemas, options) => {
      const custom = options?.customOptions ?? {};
      const coercing = pool(externalSchemas, { ...options, customOptions: { ...custom, coerceTypes: 'array' } } as never);
      const strict = pool(externalSchemas, { ...options, customOptions: { ...custom, coerceTypes: false } } as never);
      return (route: { httpPart?: string }) => (route.httpPart === 'body' ? strict : coercing)(route as never);
    }) as Factory as never,
  },
};
