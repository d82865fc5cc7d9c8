// What the service at the other end can do, read from its own OpenAPI document (public), so an
// option a newer service understands gets a clear "not supported yet" from an older one instead
// of being ignored.
import type { Api } from './api.js';

type Json = Record<string, any>;

let cached: Promise<Json | null> | undefined;

/** Whether the operation at `path` (OpenAPI form, `/v1/sessions/{id}/...`) takes the query parameter. */
export async function takesQueryParameter(api: Api, path: string, name: string): Promise<boolean> {
  cached ??= api.json<Json>('GET', '/openapi.json').then(
    (res) => res.body,
    () => null,
  );
  const document = await cached;
  const parameters = (document?.paths?.[path]?.get?.parameters ?? []) as Json[];
  return parameters.some((p) => p.in === 'query' && p.name === name);
}
