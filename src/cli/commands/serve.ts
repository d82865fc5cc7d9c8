// `sessiond serve`: runs the service in this process, configured by its environment, exactly as
// `npm start` does (src/server.ts).
import type { Command } from '../command.js';

export const serve: Command = {
  name: 'serve',
  summary: 'Run the sessiond service in the foreground.',
  args: '',
  positionals: { min: 0, max: 0 },
  options: [],
  details: `The service reads its settings from the environment, as npm start does:
  SESSIOND_HOST (127.0.0.1), SESSIOND_PORT (7070), SESSIOND_DATA_DIR (./data),
  SESSIOND_TOKENS (token:scope,...; without it a write token is generated in the data directory),
  SESSIOND_ALLOWED_COMMANDS (claude), SESSIOND_WORKSPACE_ROOTS (this directory),
  SESSIOND_LOG_FORMAT (json or pretty), SESSIOND_LOG_LEVEL (info), SESSIOND_TLS (off or behind-proxy).
The README's configuration table lists every setting. SIGTERM or Ctrl-C stops the service; sessions keep running.
It runs in this command's Node, with Node's heap defaults; npm start sizes the heap for less memory at the
same speed. For the same, run node --max-semi-space-size=8 --initial-old-space-size=48 --heap-growing-percent=20
followed by the path of sessiond's dist/src/cli/main.js and serve.`,
  async run() {
    await import('../../server.js');
    return 'running';
  },
};
