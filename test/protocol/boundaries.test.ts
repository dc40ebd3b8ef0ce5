/**
 * The import boundaries of the layout (issue 14), checked on the source text of every file:
 * - src/protocol/ is shared with the SDK: it imports nothing outside itself except TypeBox;
 * - src/client/ (the SDK, bundled for browsers, published with type declarations) imports
 *   nothing outside src/client/ and src/protocol/, no package at all, and only protocol files
 *   that import no package themselves, types included: a type from frames.ts would put TypeBox
 *   into the published declarations (the SDK's frame types are in frame-types.ts);
 * - the pure folders (protocol, connection, presence, cluster, delivery, gateway) import no
 *   framework (Fastify, ioredis, Prisma, pg, PGlite) and nothing under src/http, src/stores or
 *   src/database, types included; a known exception would be listed in ALLOWED below (none today).
 *
 * Imports are read with a small scanner rather than the compiler: statements at the start of a
 * line (`import ... from`, `export ... from`, side-effect `import '...'`) and `import('...')`.
 * `import type` / `export type` count as type-only. `import { type A }` does not: with
 * verbatimModuleSyntax it stays an `import {} from` that loads the module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

interface Import {
  /** The specifier as written. */
  specifier: string;
  /** `import type` / `export type`: erased, loads nothing. */
  typeOnly: boolean;
  /** For a relative specifier: the target, relative to the repository (`src/protocol/frames.ts`). */
  target?: string;
}

const STATEMENT = /^(import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
const DYNAMIC = /^(?![ \t]*(?:\*|\/\/)).*?(typeof\s+)?\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The imports of a source text (see the header for what counts). */
export function scanImports(source: string, file: string): Import[] {
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean) => {
    const target = specifier.startsWith('.')
      ? relative(ROOT, resolve(dirname(file), specifier))
          .split(sep)
          .join('/')
      : undefined;
    found.push({ specifier, typeOnly, ...(target === undefined ? {} : { target }) });
  };
  for (const [, , type, specifier] of source.matchAll(STATEMENT)) add(specifier!, type !== undefined);
  for (const [, type, specifier] of source.matchAll(DYNAMIC)) add(specifier!, type !== undefined);
  return found;
}

function filesUnder(folder: string): string[] {
  return readdirSync(join(SRC, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

const rel = (file: string) => relative(ROOT, file).split(sep).join('/');
const importsOf = (file: string) => scanImports(readFileSync(file, 'utf8'), file);
const under = (target: string | undefined, ...folders: string[]) => target !== undefined && folders.some((f) => target.startsWith(`src/${f}/`));
const isNodeBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);
const isTypeBox = (specifier: string) => specifier === '@sinclair/typebox' || specifier.startsWith('@sinclair/typebox/');

/** Packages the pure folders must not know (types included). */
const FRAMEWORK = /^(fastify|fastify-plugin|@fastify\/.*|ioredis|@prisma\/.*|pg|@electric-sql\/.*)(\/.*)?$/;
const PURE = ['protocol', 'connection', 'presence', 'cluster', 'delivery', 'chat', 'gateway'];

/**
 * Known crossings of the pure folders, `file -> specifier`, left for the moves under way in
 * issue 14. Each must disappear rather than be copied: a new one fails the test, and an entry
 * that no longer occurs fails it too, so the list only shrinks.
 */
const ALLOWED = new Set<string>([]);

t.test('the scanner reads every form of import the codebase uses', async (t) => {
  const file = join(SRC, 'client', 'x.ts');
  const source = [
    "import { a, type B } from './a.ts';",
    "import type { C } from '../protocol/frames.ts';",
    'import {',
    '  D,',
    '  type E,',
    "} from '../protocol/close-codes.ts';",
    "import * as f from 'node:fs';",
    "import g from 'fastify';",
    "import './side-effect.ts';",
    "export { h } from './h.ts';",
    "export type * from './types.ts';",
    "export * from './all.ts';",
    "const i = await import('./lazy.ts');",
    "type J = typeof import('./j.ts');",
    "/** import k from 'not-an-import' */",
    "// const l = await import('./commented.ts');",
    'const m = \'import n from "x"\';',
  ].join('\n');
  t.same(
    scanImports(source, file).map((i) => `${i.typeOnly ? 'type ' : ''}${i.target ?? i.specifier}`),
    [
      'src/client/a.ts',
      'type src/protocol/frames.ts',
      'src/protocol/close-codes.ts',
      'node:fs',
      'fastify',
      'src/client/side-effect.ts',
      'src/client/h.ts',
      'type src/client/types.ts',
      'src/client/all.ts',
      'src/client/lazy.ts',
      'type src/client/j.ts',
    ],
  );
  t.ok(importsOf(join(SRC, 'client', 'client.ts')).length >= 8, 'finds the imports of client.ts');
});

t.test('src/protocol imports nothing outside src/protocol except TypeBox', async (t) => {
  const files = filesUnder('protocol');
  t.ok(files.length >= 3, `${files.length} files`);
  for (const file of files) {
    for (const i of importsOf(file)) {
      const where = `${rel(file)} imports ${i.specifier}`;
      if (i.target !== undefined) t.ok(under(i.target, 'protocol'), where);
      else t.ok(isTypeBox(i.specifier) && !isNodeBuiltin(i.specifier) && !FRAMEWORK.test(i.specifier), where);
    }
  }
});

/** Protocol files the SDK may take values from: no package loaded, directly or through another protocol file. */
function browserSafeProtocolFiles(): Set<string> {
  const imports = new Map(filesUnder('protocol').map((file) => [rel(file), importsOf(file).filter((i) => !i.typeOnly)]));
  const safe = new Set<string>();
  const isSafe = (file: string, seen: Set<string>): boolean => {
    if (safe.has(file)) return true;
    if (seen.has(file) || !imports.has(file)) return false;
    seen.add(file);
    const ok = imports.get(file)!.every((i) => i.target !== undefined && isSafe(i.target, seen));
    if (ok) safe.add(file);
    return ok;
  };
  for (const file of imports.keys()) isSafe(file, new Set());
  return safe;
}

t.test('src/client imports only src/client and src/protocol, and only package-free protocol files (types too)', async (t) => {
  const safe = browserSafeProtocolFiles();
  t.ok(
    safe.has('src/protocol/close-codes.ts') && safe.has('src/protocol/error-codes.ts') && safe.has('src/protocol/limits.ts'),
    'the code tables and limits are browser-safe',
  );
  t.notOk(safe.has('src/protocol/frames.ts'), 'frames.ts is not (it loads TypeBox)');
  t.ok(safe.has('src/protocol/frame-types.ts'), 'the plain frame types are');
  const files = filesUnder('client');
  t.ok(files.length >= 5, `${files.length} files`);
  for (const file of files) {
    for (const i of importsOf(file)) {
      const where = `${rel(file)} imports ${i.typeOnly ? 'type ' : ''}${i.specifier}`;
      if (i.target === undefined) t.fail(`${where}: the SDK imports no package`);
      else if (under(i.target, 'client')) t.pass(where);
      else if (!under(i.target, 'protocol')) t.fail(`${where}: outside src/client and src/protocol`);
      else
        t.ok(
          safe.has(i.target),
          `${where}${safe.has(i.target) ? '' : ': a protocol file that loads a package (its types would reach the published declarations)'}`,
        );
    }
  }
});

t.test('the pure folders import no framework and nothing under src/http, src/stores, src/database', async (t) => {
  const seen = new Set<string>();
  for (const folder of PURE) {
    for (const file of filesUnder(folder)) {
      for (const i of importsOf(file)) {
        const key = `${rel(file)} -> ${i.specifier}`;
        const crossing = FRAMEWORK.test(i.specifier) || under(i.target, 'http', 'stores', 'database');
        if (!crossing) continue;
        seen.add(key);
        if (ALLOWED.has(key)) t.comment(`known, to be removed: ${key}${i.typeOnly ? ' (type-only)' : ''}`);
        else t.fail(`${key}${i.typeOnly ? ' (type-only)' : ''}: a pure folder must not import this`);
      }
    }
  }
  for (const key of ALLOWED) t.ok(seen.has(key), `ALLOWED entry still needed: ${key} (remove it from the list once the import is gone)`);
});
