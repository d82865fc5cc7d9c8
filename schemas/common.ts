// Small TypeBox building blocks shared by every schema file: nullable values and the id pattern.
import { Type, type TSchema } from '@sinclair/typebox';

/** A value that is present in every response but may be `null` (the contract never omits keys). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** `<slug>-<base36 time>-<random>`; checked before any file is touched. */
export const SESSION_ID_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';
export const SESSION_ID_MAX = 128;

export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 UTC time' });
