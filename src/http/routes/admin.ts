/**
 * GET /admin: the operator dashboard, a static page (src/admin/: HTML, one vanilla JS module,
 * CSS; no build step) that calls the admin API from the browser with the admin token the
 * operator types in (kept in sessionStorage). The files are read once at startup. Not part of
 * the API: hidden from the OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import type { FastifyPluginAsync } from 'fastify';

const ASSETS: Record<string, { file: string; type: string }> = {
  'dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

/** Same-origin everything: the page runs no inline script and loads nothing from elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const read = (file: string) => readFileSync(new URL(`../admin/${file}`, import.meta.url), 'utf8');

const adminRoutes: FastifyPluginAsync = async (app) => {
  const html = read('index.html');
  const assets = new Map(Object.entries(ASSETS).map(([name, { file, type }]) => [name, { body: read(file), type }]));

  const page = async (_request: unknown, reply: import('fastify').FastifyReply) => reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(html);
  app.get('/admin', { schema: { hide: true } }, page);
  app.get('/admin/', { schema: { hide: true } }, page);

  app.get<{ Params: { asset: string } }>('/admin/:asset', { schema: { hide: true } }, async (request, reply) => {
    const asset = assets.get(request.params.asset);
    if (!asset) return reply.callNotFound();
    return reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body);
  });
};

export default adminRoutes;
