// Records in a store's index are shared, read-only values: copied once when written and frozen,
// so a read hands out the indexed object itself (no copy per request) and nobody can change it
// behind the store's back. A change is always a new record given to put().
export type Frozen<T> = T;

export function frozenCopy<T>(value: T): Frozen<T> {
  return deepFreeze(structuredClone(value));
}

/** Freezes a value nobody else holds (one just parsed), in place. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as Record<string, unknown>)) deepFreeze(inner);
  }
  return value;
}
