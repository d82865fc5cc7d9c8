// Teaches TypeBox's Value.Check the two schema kinds our schemas use that it cannot judge alone.
import { FormatRegistry, TypeRegistry } from '@sinclair/typebox';

// Two global TypeBox registrations without which Value.Check cannot judge a stored record
// (neither overrides one already set):
// - Value.Check fails every string whose `format` has no checker, and timestamps are `date-time`;
// - SessionStatusSchema is a Type.Unsafe enum (kind 'Unsafe'), which Value.Check throws on.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));
}
if (!TypeRegistry.Has('Unsafe')) {
  TypeRegistry.Set<{ enum?: unknown; type?: unknown }>('Unsafe', (schema, value) => {
    if (Array.isArray(schema.enum)) return schema.enum.includes(value) && (schema.type === undefined || hasJsonType(value, schema.type));
    // No enum: the type decides; a schema with neither (a bare $ref, say) cannot be judged here.
    return hasJsonType(value, schema.type);
  });
}

/** The JSON Schema `type` keyword, for the plain Unsafe schemas above. */
function hasJsonType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      // An Unsafe schema we cannot read: refuse rather than let anything through.
      return false;
  }
}

