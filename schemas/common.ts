// Small TypeBox building blocks shared by every schema file: nullable values and the id pattern.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** A value that is present in every response but may be `null` (the contract never omits keys). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** `<slug>-<base36 time>-<random>`; checked before any file is touched. */
export const SESSION_ID_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';
export const SESSION_ID_MAX = 128;
const SESSION_ID_RE = new RegExp(SESSION_ID_PATTERN);

/** True for an id that is safe to use as a folder name; checked before any path is built from it. */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= SESSION_ID_MAX && SESSION_ID_RE.test(id);
}

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 UTC time' });

/**
 * A `$ref` to a shared schema (registered with `app.addSchema`) that keeps the static type, so
 * the OpenAPI document names the component instead of inlining it.
 */
export const ref = <T extends TSchema & { $id?: string }>(schema: T) => {
  if (!schema.$id) throw new Error('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id));
};
