/**
 * dashboard.js is a browser file with no import of the server's code, so what it copies from the
 * server is checked here, as text: its userId-prefix pattern must be the one GET
 * /api/online/players validates `prefix` with, its id pattern the one GET /api/groups/:groupId
 * and GET /api/users/:userId/groups validate their ids with, and the element ids it asks index.html for must be
 * there, with the tag its JSDoc `Elements` map promises (the typecheck trusts that map).
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { GroupParams, PlayerParams } from '../../src/http/routes/api/schemas.ts';
import { USER_ID_PATTERN, USER_ID_PREFIX_PATTERN } from '../../src/protocol/ids.ts';

const read = (file: string) => readFileSync(new URL(`../../src/http/admin/${file}`, import.meta.url), 'utf8');
const script = read('dashboard.js');
const html = read('index.html');

t.test('PREFIX_PATTERN is the server prefix pattern', async (t) => {
  const literal = /^const PREFIX_PATTERN = \/(.+)\/([a-z]*);$/m.exec(script);
  t.ok(literal, 'dashboard.js declares PREFIX_PATTERN as a regular expression literal');
  if (!literal) return;
  const [, source, flags] = literal;
  t.equal(source, USER_ID_PREFIX_PATTERN, 'same source as USER_ID_PREFIX_PATTERN');
  t.equal(flags, '', 'no flags');
  const dashboard = new RegExp(source!, flags);
  const server = new RegExp(USER_ID_PREFIX_PATTERN);
  for (const prefix of ['', 'a', 'p-01', 'Z_9.:-', 'x'.repeat(64), 'x'.repeat(65), 'a b', 'é', 'a/b', 'a\n']) {
    t.equal(dashboard.test(prefix), server.test(prefix), `same answer for ${JSON.stringify(prefix)}`);
  }
});

t.test('ID_PATTERN is the server id pattern (group ids and userIds in paths)', async (t) => {
  const literal = /^const ID_PATTERN = \/(.+)\/([a-z]*);$/m.exec(script);
  t.ok(literal, 'dashboard.js declares ID_PATTERN as a regular expression literal');
  if (!literal) return;
  const [, source, flags] = literal;
  t.equal(source, USER_ID_PATTERN, 'same source as USER_ID_PATTERN');
  t.equal(GroupParams.properties.groupId.pattern, source, 'the pattern GET /api/groups/:groupId validates groupId with');
  t.equal(PlayerParams.properties.userId.pattern, source, 'the pattern GET /api/users/:userId/groups validates userId with');
  t.equal(flags, '', 'no flags');
  const dashboard = new RegExp(source!, flags);
  const server = new RegExp(USER_ID_PATTERN);
  for (const id of ['', 'a', 'guild-1', 'a:b', 'Z_9.:-', 'x'.repeat(64), 'x'.repeat(65), 'a b', 'é', 'a/b', 'a\n', '<img>']) {
    t.equal(dashboard.test(id), server.test(id), `same answer for ${JSON.stringify(id)}`);
  }
});

t.test('every id the script asks for is in index.html, with its Elements tag', async (t) => {
  const tags = new Map([...html.matchAll(/<([a-z]+)\b[^>]*\sid="([^"]+)"/g)].map(([, tag, id]) => [id!, tag!]));
  const asked = new Set([...script.matchAll(/\$\('([^']+)'\)/g)].map(([, id]) => id!));
  t.ok(asked.size > 20, `${asked.size} ids asked for`);
  for (const id of asked) t.ok(tags.has(id), `#${id} is in index.html`);

  const map = /@typedef \{\{([^}]*)\}\} Elements/.exec(script);
  t.ok(map, 'dashboard.js has its Elements typedef');
  const tagOf: Record<string, string> = { HTMLInputElement: 'input', HTMLTableElement: 'table', HTMLButtonElement: 'button' };
  const entries = [...(map?.[1] ?? '').matchAll(/'?([a-z-]+)'?: (HTML\w+)/g)];
  t.ok(entries.length > 0, 'Elements lists elements');
  for (const [, id, type] of entries) {
    t.ok(tagOf[type!], `${type} is a known element type`);
    t.equal(tags.get(id!), tagOf[type!], `#${id} is a <${tagOf[type!]}> (${type})`);
  }
});
