// Where a session runs: on the host (`local`) or in a container (`docker`), with the container's
// image, resource limits and network. The start-body fields and the session's own.
import { Type, type Static } from '@sinclair/typebox';

export const RUNTIMES = ['local', 'docker'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export const RuntimeNameSchema = Type.Unsafe<RuntimeName>({
  type: 'string',
  enum: [...RUNTIMES],
  description: 'where the session runs: `local` (a process on the host) or `docker` (a container); default SESSIOND_DEFAULT_RUNTIME',
});

export const NETWORKS = ['none', 'bridge'] as const;
export type NetworkName = (typeof NETWORKS)[number];

export const NetworkSchema = Type.Unsafe<NetworkName>({
  type: 'string',
  enum: [...NETWORKS],
  description: 'a container’s network: `none` (only loopback; the default) or `bridge` (the engine’s default network)',
});

/** An image reference: `name[:tag]` or `name@sha256:...`, no spaces or control characters. */
export const ImageSchema = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$',
  description: 'the container image; one of SESSIOND_DOCKER_IMAGES (the first is the default)',
});

export const ContainerLimitsSchema = Type.Object(
  {
    memory_bytes: Type.Optional(Type.Integer({ minimum: 6 * 1024 * 1024, maximum: 2 ** 50, description: 'memory limit; the session is killed (SIGKILL) past it' })),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024, description: 'CPU share, in cores (0.5 is half a core)' })),
    pids: Type.Optional(Type.Integer({ minimum: 1, maximum: 4194304, description: 'the most processes and threads at once' })),
  },
  { additionalProperties: false, description: 'resource limits of a container session; absent fields: SESSIOND_DEFAULT_MEMORY_BYTES, _CPUS, _PIDS' },
);
export type ContainerLimits = Static<typeof ContainerLimitsSchema>;
