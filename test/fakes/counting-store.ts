// A memory store that counts the calls made to each of its methods, so a test can show that a
// request or an admission does not read every record.
import { createMemoryStore, type MemoryStore } from './memory-store.js';

export interface CountingStore {
  store: MemoryStore;
  /** Calls per method name since the last reset. */
  readonly calls: Map<string, number>;
  count(method: string): number;
  reset(): void;
}

export function createCountingStore(inner: MemoryStore = createMemoryStore()): CountingStore {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls, count: (method) => calls.get(method) ?? 0, reset: () => calls.clear() };
}
