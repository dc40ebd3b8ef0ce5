/**
 * `gatehouse serve` (the default command, and `node dist/server.js`): load the configuration,
 * build the app, listen, and shut down gracefully on SIGTERM/SIGINT (refuse upgrades, tell the
 * sessions to reconnect and close them with 1012, flush logouts and heartbeats) within
 * SHUTDOWN_TIMEOUT_MS, then exit 0.
 */
import { randomBytes } from 'node:crypto';
import { buildApp } from '../app.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import { PACKAGE_VERSION } from '../version.ts';

/**
 * Development with no ADMIN_TOKEN: one is made for this run and shown once on the terminal (not
 * through the logger: log files and collectors never get it), so /admin and /api work out of the
 * box instead of refusing every token with no hint. Production refuses to start without one.
 */
function withDevelopmentAdminToken(config: Config): { config: Config; generatedAdminToken: string | null } {
  if (config.NODE_ENV !== 'development' || config.ADMIN_TOKEN) return { config, generatedAdminToken: null };
  const token = randomBytes(18).toString('base64url');
  return { config: Object.freeze({ ...config, ADMIN_TOKEN: token }), generatedAdminToken: token };
}

function startupBanner(config: Config, port: number, generatedAdminToken: string | null): string {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
  const base = `http://${host}:${port}`;
  const lines = [
    `gatehouse ${PACKAGE_VERSION} listening on ${base} (node ${config.NODE_ID}, ${config.DATABASE_URL ? 'PostgreSQL' : 'embedded database'}, ${config.REDIS_CLUSTER_NODES ? 'Redis Cluster' : config.REDIS_URL ? 'Redis' : 'in-process store'})`,
    `  WebSocket  ws://${host}:${port}/ws${config.AUTH_MODE === 'none' ? '?userId=alice' : '?token=<player JWT>   (npx gatehouse token alice)'}`,
    `  API docs   ${base}/docs`,
    `  Dashboard  ${base}/admin`,
  ];
  if (generatedAdminToken) {
    lines.push(`  Admin token for this run (set ADMIN_TOKEN to choose your own): ${generatedAdminToken}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function serve(): Promise<void> {
  let loaded: Config;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config, generatedAdminToken } = withDevelopmentAdminToken(loaded);
  const app = await buildApp(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('shutdown deadline passed: exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.HOST, port: config.PORT, backlog: config.LISTEN_BACKLOG });
  if (config.NODE_ENV === 'development') {
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.PORT;
    process.stdout.write(startupBanner(config, port, generatedAdminToken));
  }
}
