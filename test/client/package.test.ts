/**
 * @gatehouse/client as a studio gets it: `npm pack` of packages/client, the tarball installed
 * into a blank project, then used from plain Node ESM (Node's own WebSocket), type-checked by a
 * strict TypeScript project, and loaded by a browser page with no bundler, both from the
 * installed package and from the gateway's /client.js. Needs npm and, for the page, Chromium
 * (skipped loudly without it, a failure with REQUIRE_SERVICES=1).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { TSC_EXECUTABLE } from '../../scripts/typescript-compiler.mjs';
import { buildTestApp } from '../helpers/build.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const project = mkdtempSync(join(tmpdir(), 'gatehouse-sdk-user-'));
t.teardown(() => rmSync(project, { recursive: true, force: true }));

// One pack + install for every test below, like a user's `npm install @gatehouse/client`. The
// package is built as `npm start` builds (only when its sources changed), then packed without its
// prepack rebuild: other suites running meanwhile serve its browser build at /client.js.
await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root });
const packed = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], { cwd: join(root, 'packages', 'client') });
const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: Array<{ path: string }> }];
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'studio-game', private: true, type: 'module' }));
await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(project, filename)], { cwd: project });
const installed = join(project, 'node_modules', '@gatehouse', 'client');

t.test('the tarball: built files only, no dependencies', async (t) => {
  const paths = files.map((f) => f.path);
  for (const expected of ['package.json', 'dist/index.js', 'dist/gatehouse-client.min.js', 'dist/types/client/index.d.ts'])
    t.ok(paths.includes(expected), expected);
  t.notOk(
    paths.some((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')),
    'no TypeScript source',
  );
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  t.equal(manifest.dependencies, undefined, 'no dependencies');
  t.same(readdirSync(join(project, 'node_modules')), ['.package-lock.json', '@gatehouse'], 'nothing else installed');
  const min = readFileSync(join(installed, 'dist', 'gatehouse-client.min.js'), 'utf8');
  t.notMatch(min, /\bnode:|require\(|process\./, 'no Node API in the browser build');
});

t.test('plain Node ESM with its own WebSocket: connect, ping, message, ack', async (t) => {
  const h = (await buildTestApp(t, 'embedded'))!;
  writeFileSync(
    join(project, 'node-user.mjs'),
    `import { GatehouseClient, CloseCode } from '@gatehouse/client';
const [url, aliceToken, bobToken] = process.argv.slice(2);
const alice = new GatehouseClient({ url, token: aliceToken });
const bob = new GatehouseClient({ url, token: bobToken });
const got = new Promise((resolve) => bob.on('message', resolve));
await alice.connect();
await bob.connect();
const rtt = await alice.ping();
const ack = await alice.sendTo('bob', { hello: 'from node' });
const message = await got;
alice.close();
bob.close();
console.log(JSON.stringify({ rtt, status: ack.status, from: message.from, content: message.content, normal: CloseCode.NORMAL }));
`,
  );
  const { stdout } = await run(process.execPath, ['node-user.mjs', `${h.wsUrl}/ws`, h.token('alice'), h.token('bob')], { cwd: project });
  const result = JSON.parse(stdout) as { rtt: number; status: string; from: string; content: unknown; normal: number };
  t.ok(result.rtt >= 0, 'ping answered');
  t.equal(result.status, 'delivered');
  t.equal(result.from, 'alice');
  t.same(result.content, { hello: 'from node' });
  t.equal(result.normal, 1000);
});

t.test('a strict TypeScript project type-checks against the declarations', async (t) => {
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        types: [],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        noImplicitOverride: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['game.ts'],
    }),
  );
  writeFileSync(
    join(project, 'game.ts'),
    `import { GatehouseClient, GatehouseError, type Ack, type AckStatus, type ServerRoomFrame } from '@gatehouse/client';
const client = new GatehouseClient({ url: 'wss://play.example.com/ws', token: async () => 'jwt', reconnect: { maxDelayMs: 10_000 } });
client.on('room', (frame: ServerRoomFrame) => console.log(frame.room, frame.from ?? 'server', frame.content));
client.on('rejoined', ({ room }) => console.log('back in', room));
client.on('close', (info) => info.willReconnect || console.log(info.code));
export async function play(): Promise<AckStatus> {
  await client.connect();
  await client.join('lobby');
  try {
    const ack: Ack = await client.publish('lobby', { text: 'gg' });
    return ack.status;
  } catch (error) {
    if (error instanceof GatehouseError) return error.code === 'TIMEOUT' ? 'unconfirmed' : 'dropped';
    throw error;
  }
}
// @ts-expect-error a wrong event name is a compile error
client.on('no-such-event', () => {});
`,
  );
  const result = await run(TSC_EXECUTABLE, ['-p', project], { cwd: project }).then(
    () => ({ code: 0, out: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, out: error.stdout }),
  );
  t.equal(result.code, 0, `tsc: ${result.out}`);
});

t.test('a browser page with no bundler: from the installed package and from /client.js', async (t) => {
  const playwright = await import('playwright-core').catch(() => null);
  if (!playwright || !existsSync(CHROMIUM)) {
    const message = `not installed: Chromium at ${CHROMIUM} or playwright-core (apt-get install -y chromium; npm ci)`;
    if (process.env.REQUIRE_SERVICES === '1') return t.fail(`REQUIRE_SERVICES=1 and ${message}`);
    process.stderr.write(`\n*** SKIPPED: ${message}: browser test skipped. Set REQUIRE_SERVICES=1 to fail instead. ***\n`);
    return t.plan(0, `${message}: skipped`);
  }
  const h = (await buildTestApp(t, 'embedded'))!;
  // The studio's own static site: the page and node_modules served as files, nothing compiled.
  const site = createServer((request, response) => {
    const path = request.url === '/' ? '/index.html' : (request.url ?? '/');
    const file = join(project, decodeURIComponent(path));
    if (!file.startsWith(project) || !existsSync(file)) return response.writeHead(404).end();
    const type = file.endsWith('.html') ? 'text/html' : 'text/javascript';
    response.writeHead(200, { 'content-type': type }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  t.teardown(() => site.close());
  const sitePort = (site.address() as { port: number }).port;
  const script = (from: string) => `<!doctype html><script type="module">
import { GatehouseClient } from '${from}';
const params = new URLSearchParams(location.hash.slice(1));
const client = new GatehouseClient({ url: params.get('url'), token: params.get('token') });
const connected = await client.connect();
const rtt = await client.ping();
client.close();
window.result = { userId: connected.userId, rtt };
</script>`;
  writeFileSync(join(project, 'index.html'), script('/node_modules/@gatehouse/client/dist/gatehouse-client.min.js'));
  writeFileSync(join(project, 'gateway.html'), script(`${h.baseUrl}/client.js`));

  const browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  t.teardown(() => browser.close());
  for (const [page, user] of [
    ['index.html', 'page-package'],
    ['gateway.html', 'page-gateway'],
  ] as const) {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    await tab.goto(`http://127.0.0.1:${sitePort}/${page}#url=${encodeURIComponent(`${h.wsUrl}/ws`)}&token=${h.token(user)}`);
    const result = await tab.waitForFunction(() => (window as unknown as { result?: unknown }).result, null, { timeout: 15_000 }).then((r) => r.jsonValue());
    t.match(result, { userId: user, rtt: Number }, `${page}: connected and pinged (${errors.join('; ') || 'no page errors'})`);
  }
  const served = await fetch(`${h.baseUrl}/client.js`);
  t.equal(served.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.equal(await served.text(), readFileSync(join(installed, 'dist', 'gatehouse-client.min.js'), 'utf8'), '/client.js is the package browser build');
  const again = await fetch(`${h.baseUrl}/client.js`, { headers: { 'if-none-match': served.headers.get('etag')! } });
  t.equal(again.status, 304, 'revalidated by its ETag');
});
