// Request validation: query strings, params and headers are text, so they are coerced to the
// schema's types (`?limit=5`); JSON bodies already have types, so they are not (`"args": [1]` is 400).
//
// Ajv's coercion has a hole: "Infinity" and "1e999" pass its string-to-number test
// (`s == +s && !(s % 1)`), and the coerced value is never checked again, while `maximum` and
// `minimum` run only for finite numbers (Ajv guards its number keywords with `isFinite`, taking
// the type check to have refused the rest). So `?tail_bytes=Infinity` passed every bound. Every
// coerced part is therefore checked once more here: a number that is not finite is a 400.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

const pool = AjvCompiler();

type Factory = ReturnType<typeof AjvCompiler>;

interface ValidationIssue {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
}

type Validate = ((data: unknown) => boolean) & { errors?: ValidationIssue[] | null };

/** The JSON pointer of the first number in `value` (an object of a request part) that is not finite. */
export function firstNonFinite(value: unknown, at = ''): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : at;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, item] of Object.entries(value)) {
    const found = firstNonFinite(item, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found !== null) return found;
  }
  return null;
}

/** The validator, and then a refusal of any coerced number that is not finite. */
function finiteNumbersOnly(validate: Validate): Validate {
  const checked: Validate = (data) => {
    const ok = validate(data);
    checked.errors = validate.errors;
    if (!ok) return false;
    const at = firstNonFinite(data);
    if (at === null) return true;
    checked.errors = [{ instancePath: at, schemaPath: '#/finite', keyword: 'type', params: { type: 'finite number' }, message: 'must be a finite number' }];
    return false;
  };
  return checked;
}

export const schemaController: NonNullable<FastifyServerOptions['schemaController']> = {
  compilersFactory: {
    buildValidator: ((externalSchemas, options) => {
      const custom = options?.customOptions ?? {};
      const coercing = pool(externalSchemas, { ...options, customOptions: { ...custom, coerceTypes: 'array' } } as never);
      const strict = pool(externalSchemas, { ...options, customOptions: { ...custom, coerceTypes: false } } as never);
      return (route: { httpPart?: string }) =>
        route.httpPart === 'body' ? strict(route as never) : finiteNumbersOnly(coercing(route as never) as unknown as Validate);
    }) as Factory as never,
  },
};
