/**
 * GET /client.js: the client SDK's browser build (@gatehouse/client, minified ESM), so a page
 * with no bundler can `import { GatehouseClient } from 'https://play.example.com/client.js'`
 * from the very gateway it connects to, always in the version that gateway speaks. Read once at
 * startup from packages/client/dist (made by `npm run build`, which `npm install` runs); when it
 * has not been built the route is absent and a warning says how to build it. Not part of the
 * API: hidden from the OpenAPI document.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

/** Two levels above this file's folder is the package root, from src/http/routes and dist/http/routes alike. */
const BROWSER_BUILD = new URL('../../../packages/client/dist/gatehouse-client.min.js', import.meta.url);

const clientScriptRoute: FastifyPluginAsync = async (app) => {
  let body: string;
  try {
    body = readFileSync(BROWSER_BUILD, 'utf8');
  } catch {
    app.log.warn('the client SDK browser build is missing (packages/client/dist): /client.js is not served; `npm run build` makes it');
    return;
  }
  // Revalidated on every load (pages must not keep an SDK older than the gateway), answered 304
  // while unchanged: the tag is the content's hash.
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  app.get('/client.js', { schema: { hide: true } }, async (request, reply) => {
    reply.headers({ etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'access-control-allow-origin': '*' });
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.type('text/javascript; charset=utf-8').send(body);
  });
};

export default clientScriptRoute;
