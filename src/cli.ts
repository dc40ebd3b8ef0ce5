#!/usr/bin/env node
/**
 * The `gatehouse` command (package.json `bin`, `npx gatehouse`). Commands:
 *   serve (default)        start the gateway
 *   token <userId>         print a player JWT signed with AUTH_JWT_SECRET
 *   check-config           validate the environment and print the effective settings
 *   migrate                apply database migrations and exit
 *   --help, --version
 * Every command reads the same environment as the server (src/config.ts). Failures print one
 * line on stderr and exit 1; nothing here prints a secret it was given.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.ts';
import { PACKAGE_VERSION } from './version.ts';

const HELP = `gatehouse ${PACKAGE_VERSION}: real-time WebSocket gateway for online games and chat

Usage: gatehouse [command] [options]

Commands:
  serve                    start the gateway (the default)
  token <userId>           print a player JWT signed with AUTH_JWT_SECRET
      --ttl <duration>     lifetime: seconds, or 15m, 12h, 7d (default 1h)
      --name <name>        display name claim
  check-config             validate the environment; print the effective settings (secrets hidden)
  migrate                  apply pending database migrations and exit

Options:
  -h, --help               this help
  -v, --version            the version

Configuration comes from environment variables (README: Configuration); \`check-config\` lists them.
`;

const DEFAULT_TOKEN_TTL_S = 3600;

function fail(message: string): never {
  process.stderr.write(`gatehouse: ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(1);
}

async function token(positionals: string[], values: { ttl?: string | undefined; name?: string | undefined }): Promise<void> {
  const [userId, extra] = positionals;
  if (!userId || extra !== undefined) fail('usage: gatehouse token <userId> [--ttl 1h] [--name NAME]');
  const { parseDurationSeconds } = await import('./cli/duration.ts');
  const ttlSeconds = values.ttl === undefined ? DEFAULT_TOKEN_TTL_S : parseDurationSeconds(values.ttl);
  if (ttlSeconds === null) fail(`--ttl "${values.ttl}" is not a duration (e.g. 3600, 15m, 12h, 7d)`);
  const { mintPlayerToken } = await import('./cli/mint-player-token.ts');
  process.stdout.write(`${await mintPlayerToken(loadConfig(), { userId, ttlSeconds, name: values.name })}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      ttl: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const [command = 'serve', ...rest] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return;
  }
  // Modules are loaded per command: `--version` or `token` must not pay for Fastify and Prisma.
  switch (command) {
    case 'serve':
      if (rest.length > 0) fail(`serve takes no arguments (got ${rest.join(' ')}); settings are environment variables`);
      await (await import('./cli/serve.ts')).serve();
      return;
    case 'token':
      await token(rest, values);
      return;
    case 'check-config':
      (await import('./cli/check-config.ts')).checkConfig();
      return;
    case 'migrate':
      await (await import('./cli/migrate.ts')).migrate();
      process.exit(0);
      return;
    default:
      fail(`unknown command "${command}" (gatehouse --help lists them)`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) fail(`invalid configuration: ${error.message}`);
  // One line, never a stack or a URL: the message is what an operator acts on.
  const message =
    error instanceof Error ? (error.name === 'Error' || error.name === 'MintRefused' ? error.message : `${error.name}: ${error.message}`) : String(error);
  fail(message);
});
