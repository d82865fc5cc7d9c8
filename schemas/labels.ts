// Labels: small string maps on sessions (and on event and webhook filters), as Docker and Kubernetes have.
import { Type, type Static } from '@sinclair/typebox';

export const LABEL_KEY_PATTERN = '^[a-z0-9]([a-z0-9._/-]{0,62}[a-z0-9])?$';
export const LABEL_VALUE_MAX = 256;
export const LABELS_MAX = 32;

export const LabelsSchema = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ maxLength: LABEL_VALUE_MAX }), {
  maxProperties: LABELS_MAX,
  additionalProperties: false,
  description: `string to string; at most ${LABELS_MAX}; keys match ${LABEL_KEY_PATTERN}, values at most ${LABEL_VALUE_MAX} characters`,
});
export type Labels = Static<typeof LabelsSchema>;

/** `key=value`, as the repeatable `label=` filter of lists, events and webhooks takes it. */
export const LABEL_SELECTOR_PATTERN = '^[a-z0-9]([a-z0-9._/-]{0,62}[a-z0-9])?=[\\s\\S]{0,256}$';

export const LabelSelectorSchema = Type.Array(
  Type.String({ pattern: LABEL_SELECTOR_PATTERN, maxLength: 64 + 1 + LABEL_VALUE_MAX }),
  { maxItems: LABELS_MAX, description: 'repeatable `key=value`; every one must match' },
);

/** `['team=web', 'env=prod']` -> `{ team: 'web', env: 'prod' }` (patterns already checked). */
export function parseLabelSelector(selectors: readonly string[] | undefined): Labels {
  const out: Labels = {};
  for (const selector of selectors ?? []) {
    const at = selector.indexOf('=');
    out[selector.slice(0, at)] = selector.slice(at + 1);
  }
  return out;
}

/** Whether `labels` carries every key=value of `wanted`. */
export function labelsMatch(labels: Labels | null | undefined, wanted: Labels): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    if (labels?.[key] !== value) return false;
  }
  return true;
}
