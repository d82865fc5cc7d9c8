// The process entry: read config, build the app, listen, and close gracefully on a signal.
// Sessions are detached and keep running when the service stops.
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { assertSafeExposure, ConfigError, loadConfig } from './config.js';
import { runAsRefusal } from './process/run-as.js';

const CLOSE_GRACE_MS = 10000;

async function main() {
  let config;
  try {
    config = loadConfig();
    assertSafeExposure(config);
    // Refused here, before anything starts, rather than at the first session.
    const refusal = runAsRefusal(config.runAs);
    if (refusal !== null) throw new ConfigError(refusal);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sessiond: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Installed before the app is built, so a signal during start-up also ends cleanly.
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  closeWithGrace({ delay: CLOSE_GRACE_MS }, async ({ signal, err }) => {
    if (err) app?.log.error({ err }, 'closing after an error');
    else app?.log.info({ signal }, 'closing; sessions keep running');
    await app?.close();
  });
  app = await buildApp({ config });
  await app.listen({ host: config.host, port: config.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`sessiond: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
