/**
 * The attacker of the hostile benchmark (a child process on the load core, `nice`d below the
 * bystanders). `run {attack, ...}` carries out one attack of bench/hostile/attacks.ts against the
 * node and answers with what came back, counted generically: acks by `status`, error frames by
 * `code`, HTTP answers by status and `code`, handshakes as 101 or refused. Every userId and room
 * it uses starts with the attack's `tag`, so the orchestrator can clean what the attack left.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { ThrottledProxy } from '../lib/throttled-proxy.ts';
import { serveCommands } from './agent.ts';
import { type CountingClient, connect, handshake, nested, playerToken, sleep, sumCounts, wsUrl, type Frame, type NodeAddress } from './wire.ts';

export interface AttackArgs {
  attack: string;
  node: NodeAddress;
  tag: string;
  durationMs: number;
  /** A bystander's userId (a known, online user). */
  bystander: string;
}

export interface AttackOutcome {
  /** Attacking sessions (WebSocket connections the attacker opened). */
  sessions: number;
  /** Frames or requests sent. */
  sent: number;
  acks: Record<string, number>;
  /** Error frames by code. */
  errors: Record<string, number>;
  /** Refused frames by code (a coalesced error frame's `count`). */
  refused: Record<string, number>;
  /** HTTP answers (and refused handshakes) by `<status> <code>`. */
  http: Record<string, number>;
  /** Close codes of the attacking sessions closed by the server. */
  closes: Record<string, number>;
  /** Refused requests: refused frames + non-2xx HTTP answers + refused handshakes. */
  refusals: number;
  /** Attack-specific figures. */
  figures: Record<string, unknown>;
  /** One line: what happened. */
  summary: string;
}

const bump = (counts: Record<string, number>, key: string, n = 1) => {
  counts[key] = (counts[key] ?? 0) + n;
};

function outcome(
  clients: CountingClient[],
  sent: number,
  figures: Record<string, unknown>,
  summary: string,
  extra: Partial<AttackOutcome> = {},
): AttackOutcome {
  const closes = closesOf(clients);
  const refused = sumCounts(clients, 'refused');
  const httpCounts = extra.http ?? {};
  const httpRefusals = Object.entries(httpCounts)
    .filter(([k]) => !/^(2\d\d|101)\b/.test(k))
    .reduce((a, [, n]) => a + n, 0);
  return {
    sessions: clients.length,
    sent,
    acks: sumCounts(clients, 'acks'),
    errors: sumCounts(clients, 'errors'),
    refused,
    http: httpCounts,
    closes,
    refusals: Object.values(refused).reduce((a, b) => a + b, 0) + httpRefusals,
    figures,
    summary,
    ...extra,
  };
}

const fmtCounts = (counts: Record<string, number>) =>
  Object.keys(counts).length === 0
    ? 'none'
    : Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n} ${k}`)
        .join(', ');

/**
 * Sends `perSec` frames a second from each client for `ms` (paced on a 10 ms tick, never ahead
 * of the schedule); a frame whose socket still holds more than `maxBuffered` bytes is skipped
 * (the server is not reading: a real attacker would not queue more either).
 */
async function pace(
  clients: CountingClient[],
  perSec: number,
  ms: number,
  frame: (client: CountingClient, n: number) => string | Buffer,
  maxBuffered = 4 * 1024 * 1024,
  /** Called every tick before sending (an attacker that logs in again when closed). */
  onTick?: () => void,
): Promise<{ sent: number; skipped: number }> {
  let sent = 0;
  let skipped = 0;
  const counts = clients.map(() => 0);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - t0;
      const due = Math.floor((Math.min(elapsed, ms) * perSec) / 1000);
      onTick?.();
      clients.forEach((c, i) => {
        while (counts[i]! < due) {
          const n = counts[i]!++;
          if (!c.open) continue;
          if (c.ws.bufferedAmount > maxBuffered) {
            skipped++;
            continue;
          }
          c.send(frame(c, n));
          sent++;
        }
      });
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  return { sent, skipped };
}

async function adminPost(node: NodeAddress, path: string, body: string): Promise<{ status: number; code: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${node.adminToken}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  // An error's `code`, or a success's `status` (e.g. a push answered `queued`).
  let code = '';
  try {
    const body = JSON.parse(text) as { code?: unknown; status?: unknown };
    code = String(body.code ?? body.status ?? '');
  } catch {
    /* not JSON */
  }
  return { status: res.status, code, body: text.slice(0, 200) };
}

const ATTACKS: Record<string, (a: AttackArgs) => Promise<AttackOutcome>> = {
  /** 1. One player sends 45 msg/s of 60 KB to userIds nobody ever used (logging in again when kicked). */
  async 'unknown-recipients'(a) {
    // A persistent attacker: closed for its strikes (4008), it logs in again and goes on, so the
    // pressure lasts the whole attack.
    const sessions = [await connect(a.node, `${a.tag}-a`)];
    const current = [sessions[0]!];
    let reconnecting = false;
    let attacking = true;
    const content = JSON.stringify('x'.repeat(60 * 1024));
    const { sent, skipped } = await pace(
      current,
      45,
      a.durationMs,
      (_c, n) => {
        const to = `${a.tag}-rnd-${randomBytes(6).toString('hex')}`;
        return `{"type":"message","to":"${to}","id":"m${n}","content":${content}}`;
      },
      undefined,
      () => {
        if (!attacking || reconnecting || current[0]!.open) return;
        reconnecting = true;
        void connect(a.node, `${a.tag}-a`)
          .then(
            (next) => {
              sessions.push(next);
              current[0] = next;
            },
            () => {},
          )
          .finally(() => {
            reconnecting = false;
          });
      },
    );
    attacking = false;
    await sleep(1500);
    for (const s of sessions) s.close();
    return outcome(
      sessions,
      sent,
      { skipped, logins: sessions.length },
      `${sent} sent to random ids over ${sessions.length} logins: acks ${fmtCounts(sumCounts(sessions, 'acks'))}; errors ${fmtCounts(sumCounts(sessions, 'errors'))}`,
      { sessions: 1 },
    );
  },

  /**
   * 2. A known user goes offline after one login; an admin pushes them one server message, then
   * an attacker sends them 135 junk messages. What does the user get back on reconnect?
   */
  async 'offline-junk'(a) {
    const victimId = `${a.tag}-victim`;
    const first = await connect(a.node, victimId);
    await sleep(300);
    first.ws.close(1000);
    await sleep(1500); // logged out (LOGOUT_GRACE_MS=0)
    const push = await adminPost(a.node, `/api/users/${victimId}/messages`, JSON.stringify({ content: { kind: 'server-push', n: 1 } }));
    const attacker = await connect(a.node, `${a.tag}-a`);
    const { sent } = await pace(
      [attacker],
      45,
      Math.ceil((135 / 45) * 1000),
      (_c, n) => `{"type":"message","to":"${victimId}","id":"j${n}","content":"junk ${n}"}`,
    );
    await sleep(1000);
    const victim = await connect(a.node, victimId);
    let junk = 0;
    let pushes = 0;
    let other = 0;
    victim.onFrame = (f: Frame) => {
      if (f.type !== 'message') return;
      if (f.server === true) pushes++;
      else if (typeof f.content === 'string' && f.content.startsWith('junk')) junk++;
      else other++;
    };
    // Replay is paced while the send queue has room; without acks it all still comes.
    let last = -1;
    for (let i = 0; i < 40 && junk + pushes + other !== last; i++) {
      last = junk + pushes + other;
      await sleep(250);
    }
    await sleep(500);
    attacker.close();
    victim.close();
    return outcome(
      [attacker, victim],
      sent,
      { pushStatus: push.status, pushAnswer: push.code, replayJunk: junk, replayServerPushes: pushes, replayOther: other },
      `push answered ${push.status} ${push.code}; ${sent} junk sent (acks ${fmtCounts(attacker.acks)}; errors ${fmtCounts(attacker.errors)}); on reconnect: ${junk} junk, ${pushes} of 1 server pushes`,
      { sessions: 1 },
    );
  },

  /** 3. 8 sessions × 45 frames/s of 498 KB deeply nested JSON. */
  async 'nested-json'(a) {
    const head = '{"type":"message","to":"x","content":';
    const size = 498 * 1024;
    const depth = Math.floor((size - head.length - 1) / 2);
    const payload = Buffer.from(`${head}${nested(depth)}}`);
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(a.node, `${a.tag}-a${i}`)));
    const { sent, skipped } = await pace(clients, 45, a.durationMs, () => payload);
    await sleep(1000);
    for (const c of clients) c.close();
    return outcome(
      clients,
      sent,
      { frameBytes: payload.length, depth, skippedBackedUp: skipped, sentMB: Math.round((sent * payload.length) / 1e6) },
      `${sent} frames of ${Math.round(payload.length / 1024)} KB sent (${skipped} skipped: socket backed up); errors ${fmtCounts(sumCounts(clients, 'errors'))}; closes ${fmtCounts(closesOf(clients))}`,
    );
  },

  /**
   * 4. Two attackers flood a player whose link is 256 KB/s (a throttling proxy in front of
   * their connection). False acks: `delivered` for messages the victim never received.
   */
  async 'slow-victim'(a) {
    const proxy = await ThrottledProxy.start(a.node.port, 256 * 1024);
    const victimId = `${a.tag}-victim`;
    const victim = await connect(a.node, victimId, proxy.port);
    const received = new Set<string>();
    const pongDelays: number[] = [];
    const pingsSent: number[] = [];
    victim.onFrame = (f) => {
      if (f.type === 'message' && f.content && typeof f.content === 'object') received.add(String((f.content as { k?: unknown }).k));
      else if (f.type === 'pong') pongDelays.push(performance.now() - (pingsSent[Number(f.ts)] ?? Number.NaN));
    };
    let lastFrame = performance.now();
    victim.ws.on('message', () => (lastFrame = performance.now()));
    const pinger = setInterval(() => {
      pingsSent.push(performance.now());
      victim.send(`{"type":"ping","ts":${pingsSent.length - 1}}`);
    }, 1000);
    const attackers = await Promise.all([0, 1].map((i) => connect(a.node, `${a.tag}-a${i}`)));
    for (const c of attackers) c.keepAlive(); // they stay on while the victim's link drains
    const filler = 'y'.repeat(16 * 1024);
    const { sent } = await pace(attackers, 40, a.durationMs, (c, n) => {
      const k = `${c.userId}.${n}`;
      return `{"type":"message","to":"${victimId}","id":"${k}","content":{"k":"${k}","pad":"${filler}"}}`;
    });
    const pongsDuringAttack = pongDelays.length;
    // Let the victim's link drain what the gateway still holds for it (or give up after 30 s).
    await sleep(1500);
    const until = performance.now() + 30_000;
    while (performance.now() - lastFrame < 3000 && performance.now() < until && victim.open) await sleep(200);
    clearInterval(pinger);
    let delivered = 0;
    let falseAcks = 0;
    for (const c of attackers) {
      for (const [id, status] of c.ackById) {
        if (status !== 'delivered') continue;
        delivered++;
        if (!received.has(id)) falseAcks++;
      }
    }
    const answered = pongDelays.filter(Number.isFinite);
    const maxPong = answered.length ? Math.max(...answered) : null;
    const unanswered = pingsSent.length - answered.length;
    for (const c of [...attackers, victim]) c.close();
    await proxy.close();
    const acks = sumCounts(attackers, 'acks');
    return outcome(
      attackers,
      sent,
      {
        received: received.size,
        deliveredAcks: delivered,
        falseAcks,
        victimPings: pingsSent.length,
        victimPongsDuringAttack: pongsDuringAttack,
        victimPongs: answered.length,
        victimPongsUnanswered: unanswered,
        victimMaxPongDelayMs: maxPong === null ? null : Math.round(maxPong),
        victimClose: victim.closeCode ?? null,
      },
      `${sent} sent, acks ${fmtCounts(acks)}; victim received ${received.size} (false acks ${falseAcks}); victim pongs ${pongsDuringAttack} during the ${a.durationMs / 1000} s attack, ${answered.length} of ${pingsSent.length} in all, max delay ${maxPong === null ? '-' : `${(maxPong / 1000).toFixed(1)} s`}${victim.closeCode ? `; victim closed ${victim.closeCode}` : ''}`,
    );
  },

  /** 5. A token with no `exp`, signed with the node's secret. */
  async 'jwt-no-exp'(a) {
    const h = await handshake(wsUrl(a.node.port, playerToken(a.node.jwtSecret, `${a.tag}-a`, false)));
    if (h.ok) h.ws.terminate();
    const key = h.ok ? '101' : `${h.status} ${codeOf(h.body)}`;
    return outcome([], 1, { status: h.ok ? 101 : h.status }, h.ok ? 'accepted (101)' : `refused: HTTP ${key}`, { http: { [key]: 1 }, sessions: h.ok ? 1 : 0 });
  },

  /** 6. Anonymous requests with 15 KB URLs and 15 KB headers, as fast as the node answers. */
  async 'big-requests'(a) {
    const junk = 'z'.repeat(15 * 1024);
    const variants: Array<{ path: string; headers: Record<string, string> }> = [
      { path: `/api/online/players?junk=${junk}`, headers: {} },
      { path: `/ws?token=${junk}`, headers: {} },
      { path: '/api/online/players', headers: { authorization: `Bearer ${junk}` } },
      { path: '/api/broadcast', headers: { 'x-junk': junk } },
    ];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const counts: Record<string, number> = {};
    let sent = 0;
    const until = performance.now() + a.durationMs;
    const one = (v: (typeof variants)[number]) =>
      new Promise<void>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: a.node.port, path: v.path, headers: v.headers, agent, method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.length < 2000 ? d.toString() : ''));
          res.on('end', () => {
            bump(counts, `${res.statusCode} ${codeOf(body)}`);
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('error', (e) => {
          bump(counts, `0 ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
          resolve();
        });
        req.end();
      });
    const loop = async (k: number) => {
      for (let i = k; performance.now() < until; i += 8) {
        sent++;
        await one(variants[i % variants.length]!);
      }
    };
    // Plus WebSocket upgrades with a 15 KB token (a new connection each).
    const upgrades = async () => {
      while (performance.now() < until) {
        sent++;
        const h = await handshake(wsUrl(a.node.port, junk), {}, 5000);
        if (h.ok) h.ws.terminate();
        bump(counts, h.ok ? '101' : `${h.status} ${codeOf(h.body)} (upgrade)`);
      }
    };
    await Promise.all([...Array.from({ length: 8 }, (_, k) => loop(k)), upgrades()]);
    agent.destroy();
    return outcome([], sent, { perSecond: Math.round(sent / (a.durationMs / 1000)) }, `${sent} requests: ${fmtCounts(counts)}`, { http: counts });
  },

  /** 7. One session floods pings far above MAX_MESSAGES_PER_SEC (until closed or the time is up). */
  async 'rate-flood'(a) {
    const attacker = await connect(a.node, `${a.tag}-a`);
    const t0 = Date.now();
    const { sent } = await pace([attacker], 2000, a.durationMs, (_c, n) => `{"type":"ping","ts":${n}}`, 1024 * 1024);
    await sleep(1000);
    const closedAfter = attacker.closedAt ? attacker.closedAt - t0 : null;
    attacker.close();
    return outcome(
      [attacker],
      sent,
      {
        rateLimitedFrames: attacker.errors.RATE_LIMITED ?? 0,
        rateLimitedCounted: attacker.refused.RATE_LIMITED ?? 0,
        pongs: attacker.frames.pong ?? 0,
        closedAfterMs: closedAfter,
      },
      `${sent} pings sent: ${attacker.errors.RATE_LIMITED ?? 0} RATE_LIMITED frames back (standing for ${attacker.refused.RATE_LIMITED ?? 0}), ${attacker.frames.pong ?? 0} pongs; ${
        attacker.closeCode ? `closed ${attacker.closeCode} after ${((closedAfter ?? 0) / 1000).toFixed(1)} s` : 'never closed'
      }`,
    );
  },

  /** 8. Admin pushes whose content is nested 10,000 levels. */
  async 'nested-admin'(a) {
    const body = `{"content":${nested(10_000)}}`;
    const routes = [`/api/users/${a.bystander}/messages`, '/api/broadcast', `/api/rooms/${a.tag}-room/messages`];
    const counts: Record<string, number> = {};
    const answers: Record<string, string> = {};
    for (const route of routes) {
      const r = await adminPost(a.node, route, body);
      bump(counts, `${r.status} ${r.code}`);
      answers[route.replace(a.bystander, ':userId').replace(`${a.tag}-room`, ':room')] = `${r.status} ${r.code}`;
    }
    return outcome(
      [],
      routes.length,
      { answers },
      Object.entries(answers)
        .map(([k, v]) => `${k} → ${v}`)
        .join('; '),
      { http: counts },
    );
  },

  /** 9. Message content with numbers outside the double range. */
  async 'huge-numbers'(a) {
    const sender = await connect(a.node, `${a.tag}-a`);
    const rcpt = await connect(a.node, `${a.tag}-r`);
    // The raw text of what the recipient got: JSON.parse would turn 1e999 into Infinity and
    // JSON.stringify that into null, hiding what the server really sent.
    const got: string[] = [];
    rcpt.ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"type":"message"')) got.push(/"content":(\{"n":[^}]*\})/.exec(text)?.[1] ?? text.slice(0, 120));
    });
    const pongs: string[] = [];
    sender.ws.on('message', (data) => {
      const text = data.toString();
      if (text.includes('"type":"pong"')) pongs.push(/"ts":([^,}]*)/.exec(text)?.[1] ?? 'none');
    });
    const cases: Array<[string, string]> = [
      ['1e999', '1e999'],
      ['400-digit integer', `1${'0'.repeat(399)}`],
    ];
    const results: Record<string, string> = {};
    let corrupted = 0;
    for (const [name, literal] of cases) {
      const before = got.length;
      const id = `n${Object.keys(results).length}`;
      sender.send(`{"type":"message","to":"${rcpt.userId}","id":"${id}","content":{"n":${literal}}}`);
      await sleep(700);
      const ack = sender.ackById.get(id);
      const delivered = got.length > before ? got[got.length - 1] : undefined;
      if (delivered !== undefined && delivered !== `{"n":${literal}}`) corrupted++;
      results[name] = ack
        ? `ack ${ack}${delivered ? `, delivered as ${delivered}` : ', not delivered'}`
        : `refused (${fmtCounts(sender.errors)})${delivered ? `, yet delivered as ${delivered}` : ''}`;
    }
    const errorsBefore = { ...sender.errors };
    sender.send('{"type":"ping","ts":1e999}');
    await sleep(500);
    const newErrors = Object.entries(sender.errors).filter(([code, n]) => n > (errorsBefore[code] ?? 0));
    results['ping ts 1e999'] = pongs.length
      ? `pong ts ${pongs[pongs.length - 1]}`
      : newErrors.length
        ? `refused (${newErrors.map(([c]) => c).join(', ')})`
        : 'no answer';
    sender.close();
    rcpt.close();
    return outcome(
      [sender, rcpt],
      cases.length + 1,
      { results, corrupted, refused: cases.length - Object.values(results).filter((r) => r.startsWith('ack')).length },
      Object.entries(results)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
      { sessions: 1 },
    );
  },

  /** 10. 10 sessions alternate join/leave of fresh rooms, 45 frames/s each. */
  async 'room-spam'(a) {
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(a.node, `${a.tag}-a${i}`)));
    const { sent } = await pace(clients, 45, a.durationMs, (c, n) => {
      const room = `${a.tag}-${c.userId.slice(-3)}-r${Math.floor(n / 2)}`;
      return n % 2 === 0 ? `{"type":"join","room":"${room}"}` : `{"type":"leave","room":"${room}"}`;
    });
    await sleep(1000);
    const frames = sumCounts(clients, 'frames');
    for (const c of clients) c.close();
    return outcome(
      clients,
      sent,
      { joined: frames.joined ?? 0, left: frames.left ?? 0 },
      `${sent} join/leave frames: ${frames.joined ?? 0} joined, ${frames.left ?? 0} left; errors ${fmtCounts(sumCounts(clients, 'errors'))}`,
    );
  },

  /** 11. A page of another site opens /ws (Origin: https://evil.example) with a valid token. */
  async 'cross-origin'(a) {
    const h = await handshake(wsUrl(a.node.port, playerToken(a.node.jwtSecret, `${a.tag}-a`)), { origin: 'https://evil.example' });
    if (h.ok) h.ws.terminate();
    const key = h.ok ? '101' : `${h.status} ${codeOf(h.body)}`;
    return outcome([], 1, { status: h.ok ? 101 : h.status }, h.ok ? 'accepted (101)' : `refused: HTTP ${key}`, { http: { [key]: 1 }, sessions: h.ok ? 1 : 0 });
  },
};

function closesOf(clients: CountingClient[]): Record<string, number> {
  const closes: Record<string, number> = {};
  for (const c of clients) if (c.closeCode !== undefined) bump(closes, String(c.closeCode));
  return closes;
}

/** The `code` of a JSON error answer, if any. */
function codeOf(body: string): string {
  try {
    const code = (JSON.parse(body) as { code?: unknown }).code;
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}

serveCommands({
  async run(args: AttackArgs) {
    const attack = ATTACKS[args.attack];
    if (!attack) throw new Error(`unknown attack ${args.attack}`);
    return attack(args);
  },
});
