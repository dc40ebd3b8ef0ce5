/**
 * `npm run openapi`: writes openapi/openapi.json from the routes' schemas. The app is built
 * with a fixed configuration (embedded, in-memory database, fixed node id, no listen) so the
 * document is the same on every machine; test/api/openapi.test.ts fails when the committed
 * file differs from what this generates.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';

/** Where the committed document lives. */
export const OPENAPI_PATH = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));

/** The OpenAPI document of the routes, formatted exactly as the committed file. */
export async function generateOpenapi(): Promise<string> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    NODE_ID: 'openapi-generator-node',
    HOST: '127.0.0.1',
    PORT: '0',
    PGLITE_DIR: 'memory://',
    AUTH_JWT_SECRET: 'openapi-generator-secret-0123456789abcdef',
    ADMIN_TOKEN: 'openapi-generator-admin',
  });
  const app = await buildApp(config, { logger: false });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const text = await generateOpenapi();
  mkdirSync(dirname(OPENAPI_PATH), { recursive: true });
  writeFileSync(OPENAPI_PATH, text);
  process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`openapi: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
