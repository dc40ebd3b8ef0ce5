/**
 * Entry point of the gateway process (`npm start`, `node dist/server.js`, the container's
 * command): `gatehouse serve` without the command-line parsing, see src/cli/serve.ts.
 */
import { serve } from './cli/serve.ts';

serve().catch((error: unknown) => {
  process.stderr.write(`gatehouse: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
