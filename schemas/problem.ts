// RFC 9457 problem details: the one shape of every error the API sends.
import { Type, type Static } from '@sinclair/typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'always about:blank; the `code` tells errors apart' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'stable machine-readable code, e.g. session_not_found' }),
    instance: Type.Optional(Type.String({ description: 'the request path' })),
    size: Type.Optional(Type.Integer({ description: 'range_not_satisfiable on a log: its size in bytes' })),
    retained_from: Type.Optional(
      Type.Integer({ description: 'range_not_satisfiable on a log whose oldest bytes the cap dropped: its first retained byte (the log holds bytes retained_from..size-1)' }),
    ),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: 'JSON pointer into the request part, e.g. /body/name' }),
          message: Type.String(),
        }),
      ),
    ),
  },
  { $id: 'Problem' },
);
export type Problem = Static<typeof ProblemSchema>;
