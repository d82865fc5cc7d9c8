// `sessiond get <id>`: one session, as the service knows it, as JSON (like docker inspect).
import type { Command } from '../command.js';
import { getSession } from '../sessions.js';

export const get: Command = {
  name: 'get',
  summary: 'Print a session as JSON.',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: [],
  async run(parsed, context) {
    const session = await getSession(await context.api(), parsed.positionals[0] as string);
    context.out.write(`${JSON.stringify(session, null, 2)}\n`);
    return 0;
  },
};
