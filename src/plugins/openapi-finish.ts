// Rules applied to the whole generated OpenAPI document (@fastify/swagger's transformObject), so
// that generators take it as it is: what the server defaults is optional in a request, the
// headers every 201, 401 and 429 carry are named, and what webhooks receive is an operation too.
import { OPTIONAL_BODY_MARK } from './openapi-operations.js';

type Json = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const COMPONENT_PREFIX = '#/components/schemas/';

function operations(doc: Json): Json[] {
  const out: Json[] = [];
  for (const item of Object.values((doc.paths ?? {}) as Json)) {
    for (const method of METHODS) if (item[method]) out.push(item[method]);
  }
  return out;
}

/**
 * A request property with a `default` is generated as required by openapi-typescript (and
 * others) with their default options, although a client may leave it out: the server fills it
 * in. The default moves into the description; the server keeps applying it (ajv useDefaults).
 */
function moveDefaultsToDescriptions(schema: Json, doc: Json, seen: Set<Json>): void {
  if (seen.has(schema)) return;
  seen.add(schema);
  if (typeof schema.$ref === 'string' && schema.$ref.startsWith(COMPONENT_PREFIX)) {
    const target = doc.components?.schemas?.[schema.$ref.slice(COMPONENT_PREFIX.length)];
    if (target) moveDefaultsToDescriptions(target, doc, seen);
  }
  for (const property of Object.values((schema.properties ?? {}) as Json)) {
    if (property && typeof property === 'object' && 'default' in property) {
      const said = `Default: \`${JSON.stringify(property.default)}\`.`;
      property.description = property.description ? `${String(property.description).replace(/\.$/, '')}. ${said}` : said;
      delete property.default;
    }
    if (property && typeof property === 'object') moveDefaultsToDescriptions(property, doc, seen);
  }
  for (const key of ['items', 'additionalProperties']) if (schema[key] && typeof schema[key] === 'object') moveDefaultsToDescriptions(schema[key], doc, seen);
  for (const key of ['allOf', 'anyOf', 'oneOf']) for (const part of (schema[key] ?? []) as Json[]) moveDefaultsToDescriptions(part, doc, seen);
}

const header = (description: string, schema: Json = { type: 'string' }) => ({ description, schema });

/** Headers that every response of a kind carries, wherever it is answered. */
function describeHeaders(op: Json): void {
  const replayable = ((op.parameters ?? []) as Json[]).some((p) => p.in === 'header' && p.name === 'idempotency-key');
  for (const [status, response] of Object.entries((op.responses ?? {}) as Json)) {
    const headers: Json = {};
    if (status === '201' || status === '202') headers.Location = header('the path of the resource, e.g. `/v1/sessions/{id}`');
    if (replayable && status.startsWith('2')) {
      headers['Idempotent-Replayed'] = header('`true` when this is the answer to an earlier request with the same Idempotency-Key', { type: 'string', enum: ['true'] });
    }
    if (status === '401') headers['WWW-Authenticate'] = header('`Bearer realm="sessiond"`, with `error="invalid_token"` when a token was sent but is not valid');
    if (status === '429') headers['Retry-After'] = header('seconds until the write rate limit lets another request through (rate limiting only)', { type: 'integer' });
    if (Object.keys(headers).length > 0) response.headers = { ...headers, ...response.headers };
  }
}

/** What webhook endpoints receive (OpenAPI 3.1 `webhooks`): the lifecycle event and the test event. */
function webhookDeliveries(): Json {
  const signatureHeaders = [
    { in: 'header', name: 'webhook-id', required: true, description: 'one per event and endpoint, the same on every retry: deduplicate by it', schema: { type: 'string' } },
    { in: 'header', name: 'webhook-timestamp', required: true, description: 'Unix seconds of this attempt', schema: { type: 'string' } },
    {
      in: 'header',
      name: 'webhook-signature',
      required: true,
      description: '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` with the endpoint’s secret (Standard Webhooks)',
      schema: { type: 'string' },
    },
  ];
  const delivery = (operationId: string, summary: string, description: string, schema: string) => ({
    post: {
      operationId,
      tags: ['webhooks'],
      summary,
      description,
      security: [],
      parameters: signatureHeaders,
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: `${COMPONENT_PREFIX}${schema}` } } } },
      responses: {
        '2XX': { description: 'received: the delivery succeeded' },
        '4XX': { description: 'refused: the delivery is retried with backoff (a test is not retried)' },
        '5XX': { description: 'failed: the delivery is retried with backoff (a test is not retried)' },
      },
    },
  });
  return {
    lifecycleEvent: delivery(
      'receiveLifecycleEvent',
      'A lifecycle event, POSTed to a registered endpoint',
      'Sent for each event the endpoint’s `types` and `labels` select, in seq order; redirects are not followed; an attempt times out after 10 s.',
      'LifecycleEvent',
    ),
    webhookTest: delivery('receiveWebhookTest', 'The test event POST /v1/webhooks/{id}/test sends', 'Signed like every delivery, sent once.', 'WebhookTestEvent'),
  };
}

export function finishDocument(input: Json): Json {
  // A copy: the generated objects may share schemas with what the routes validate with.
  const doc = structuredClone(input);
  const seen = new Set<Json>();
  for (const op of operations(doc)) {
    for (const parameter of (op.parameters ?? []) as Json[]) {
      // The server fills a missing parameter with its default: a client need not send it.
      if (parameter.schema && 'default' in parameter.schema) parameter.required = false;
    }
    const body = op.requestBody as Json | undefined;
    if (body) {
      for (const media of Object.values((body.content ?? {}) as Json)) if (media.schema) moveDefaultsToDescriptions(media.schema, doc, seen);
      if (op[OPTIONAL_BODY_MARK]) body.required = false;
    }
    delete op[OPTIONAL_BODY_MARK];
    describeHeaders(op);
  }
  doc.webhooks = webhookDeliveries();
  return doc;
}
