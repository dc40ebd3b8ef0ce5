import t from 'tap';
import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import {
  CLIENT_FRAME_TYPES,
  ClientFrameSchema,
  FRAME_ENVELOPE_ALLOWANCE,
  MAX_CONTENT_DEPTH,
  MAX_FRAME_DEPTH,
  ServerErrorFrameSchema,
  checkContent,
  ServerFrameSchema,
  ServerPongFrameSchema,
  encodeError,
  canonicalPingTs,
  encodePong,
  encodePongText,
  pongTail,
  encodeServerFrame,
  parseClientFrame,
  type ParseResult,
  type ServerFrame,
} from '../../src/protocol/frames.ts';
import { FRAME_ERROR_CODES, FrameErrorText, isFrameErrorCode } from '../../src/protocol/error-codes.ts';
import { CloseCode, KickedReason, MAX_CLOSE_REASON_BYTES, NO_RECONNECT_CODES, closeAdvice, closeReason } from '../../src/protocol/close-codes.ts';

const limits = { maxContentBytes: 1024 };
const parse = (text: string, l = limits): ParseResult => parseClientFrame(text, l);
const parseObj = (value: unknown, l = limits): ParseResult => parse(JSON.stringify(value), l);

/** Deterministic PRNG (mulberry32) so a fuzz failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('valid frames of every client type', async (t) => {
  const cases: [unknown, unknown][] = [
    [
      { type: 'ping', ts: 123 },
      { type: 'ping', ts: 123 },
    ],
    [{ type: 'ping' }, { type: 'ping' }],
    [
      { type: 'ping', ts: -1.5e300 },
      { type: 'ping', ts: -1.5e300 },
    ],
    [
      { ts: 7, type: 'ping', extra: [1] },
      { type: 'ping', ts: 7 },
    ],
    [
      { type: 'message', to: 'bob', content: 'hi' },
      { type: 'message', to: 'bob', content: 'hi' },
    ],
    [
      { type: 'message', to: 'a.b:c-d_9', content: { x: [1, null] }, id: 'm1' },
      { type: 'message', to: 'a.b:c-d_9', content: { x: [1, null] }, id: 'm1' },
    ],
    [
      { type: 'message', to: 'bob', content: null, id: '' },
      { type: 'message', to: 'bob', content: null, id: '' },
    ],
    [
      { type: 'join', room: 'lobby' },
      { type: 'join', room: 'lobby' },
    ],
    [
      { type: 'leave', room: 'r'.repeat(128) },
      { type: 'leave', room: 'r'.repeat(128) },
    ],
    [
      { type: 'room', room: 'lobby', content: 42, id: 'x'.repeat(64) },
      { type: 'room', room: 'lobby', content: 42, id: 'x'.repeat(64) },
    ],
    [
      { type: 'room', room: 'lobby', content: false },
      { type: 'room', room: 'lobby', content: false },
    ],
    [
      { type: 'ack', id: 'srv-1' },
      { type: 'ack', id: 'srv-1' },
    ],
    [
      { type: 'group', group: 'guild-1', content: { text: 'gg' }, id: 'g1', extra: true },
      { type: 'group', group: 'guild-1', content: { text: 'gg' }, id: 'g1' },
    ],
    [
      { type: 'group', group: 'a:b', content: 0 },
      { type: 'group', group: 'a:b', content: 0 },
    ],
    [
      { type: 'history', conversation: 'group:guild-1', before: 10, after: 2, limit: 5, id: 'h1' },
      { type: 'history', conversation: 'group:guild-1', before: 10, after: 2, limit: 5, id: 'h1' },
    ],
    [
      { limit: 1, type: 'history', conversation: 'dm:a:b' },
      { type: 'history', conversation: 'dm:a:b', limit: 1 },
    ],
    [
      { type: 'received', conversation: 'dm:a:b%3Ac', seq: 0 },
      { type: 'received', conversation: 'dm:a:b%3Ac', seq: 0 },
    ],
  ];
  const seen = new Set<string>();
  for (const [input, expected] of cases) {
    const r = parseObj(input);
    t.same(r, { ok: true, frame: expected }, JSON.stringify(input));
    if (r.ok) {
      seen.add(r.frame.type);
      t.ok(Value.Check(ClientFrameSchema, r.frame), 'the schema accepts the parsed frame');
    }
  }
  t.same([...seen].sort(), [...CLIENT_FRAME_TYPES].sort(), 'every client type covered');
  const spaced = parse(' { "type" : "ping" , "ts" : 1.0 } ');
  t.same(spaced, { ok: true, frame: { type: 'ping', ts: 1 } }, 'non-canonical spelling');
});

t.test('unknown fields are dropped, __proto__ never travels', async (t) => {
  const r = parse('{"type":"message","to":"bob","content":{"__proto__":{"polluted":1}},"__proto__":{"polluted":1},"x":1}');
  t.equal(r.ok, true);
  if (!r.ok || r.frame.type !== 'message') return;
  t.same(Object.keys(r.frame).sort(), ['content', 'to', 'type']);
  t.equal(Object.getPrototypeOf(r.frame), Object.prototype);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  t.equal(Object.getPrototypeOf(r.frame.content), Object.prototype, 'content keeps "__proto__" as an own key only');
  const p = parse('{"__proto__":{"type":"ping"}}');
  t.equal(p.ok ? 'ok' : p.code, 'BAD_MESSAGE', 'a type inherited through __proto__ does not count');
});

t.test('every error row of PROTOCOL.md', async (t) => {
  const rows: [string, string, string | RegExp][] = [
    ['not json', 'BAD_JSON', /not valid JSON/],
    ['', 'BAD_JSON', /not valid JSON/],
    ['{"type":"ping"', 'BAD_JSON', /not valid JSON/],
    ['[{"type":"ping"}]', 'BAD_JSON', /JSON object/],
    ['null', 'BAD_JSON', /JSON object/],
    ['42', 'BAD_JSON', /JSON object/],
    ['"ping"', 'BAD_JSON', /JSON object/],
    ['{}', 'BAD_MESSAGE', 'type is required'],
    ['{"type":7}', 'BAD_MESSAGE', 'type must be a string'],
    ['{"type":"pingx"}', 'BAD_MESSAGE', /^type must be one of: ping, message, join, leave, room, ack, group, history, received$/],
    ['{"type":"group","content":1}', 'BAD_MESSAGE', 'group is required'],
    ['{"type":"group","group":"a b","content":1}', 'BAD_MESSAGE', /^group must be a group id/],
    ['{"type":"group","group":"g"}', 'BAD_MESSAGE', 'content is required'],
    ['{"type":"history"}', 'BAD_MESSAGE', 'conversation is required'],
    [JSON.stringify({ type: 'history', conversation: 'x'.repeat(400) }), 'BAD_MESSAGE', /^conversation must be a conversation id/],
    ['{"type":"history","conversation":"dm:a:b","before":-1}', 'BAD_MESSAGE', /^before must be an integer/],
    ['{"type":"history","conversation":"dm:a:b","after":1.5}', 'BAD_MESSAGE', /^after must be an integer/],
    ['{"type":"history","conversation":"dm:a:b","limit":0}', 'BAD_MESSAGE', /^limit must be an integer >= 1/],
    ['{"type":"received","conversation":"dm:a:b"}', 'BAD_MESSAGE', /^seq must be an integer/],
    ['{"type":"received","seq":1}', 'BAD_MESSAGE', /^conversation must be/],
    ['{"type":"ping","ts":"1"}', 'BAD_MESSAGE', /^ts /],
    ['{"type":"ping","ts":null}', 'BAD_MESSAGE', /^ts /],
    ['{"type":"ping","ts":1e400}', 'BAD_MESSAGE', /^ts must be a finite number/],
    ['{"type":"message","content":"x"}', 'BAD_MESSAGE', 'to is required'],
    ['{"type":"message","to":5,"content":"x"}', 'BAD_MESSAGE', /^to must be a userId/],
    ['{"type":"message","to":"","content":"x"}', 'BAD_MESSAGE', /^to must be a userId/],
    ['{"type":"message","to":"a b","content":"x"}', 'BAD_MESSAGE', /^to must be a userId/],
    [JSON.stringify({ type: 'message', to: 'a'.repeat(65), content: 'x' }), 'BAD_MESSAGE', /^to must/],
    ['{"type":"message","to":"bob"}', 'BAD_MESSAGE', 'content is required'],
    ['{"type":"message","to":"bob","content":"x","id":5}', 'BAD_MESSAGE', /^id must be a string/],
    [JSON.stringify({ type: 'message', to: 'bob', content: 'x', id: 'i'.repeat(65) }), 'BAD_MESSAGE', /^id must/],
    ['{"type":"join"}', 'BAD_MESSAGE', 'room is required'],
    ['{"type":"leave","room":["x"]}', 'BAD_MESSAGE', /^room must be a room name/],
    [JSON.stringify({ type: 'join', room: 'r'.repeat(129) }), 'BAD_MESSAGE', /^room must/],
    ['{"type":"room","content":1}', 'BAD_MESSAGE', 'room is required'],
    ['{"type":"room","room":"lobby"}', 'BAD_MESSAGE', 'content is required'],
    ['{"type":"ack"}', 'BAD_MESSAGE', 'id is required'],
    ['{"type":"ack","id":""}', 'BAD_MESSAGE', /^id must be a non-empty string/],
    ['{"type":"ack","id":3}', 'BAD_MESSAGE', /^id must/],
    [JSON.stringify({ type: 'message', to: 'bob', content: 'x'.repeat(2000) }), 'TOO_LARGE', /at most 1024 bytes/],
  ];
  for (const [text, code, error] of rows) {
    const r = parse(text);
    t.equal(r.ok, false, text.slice(0, 60));
    if (r.ok) continue;
    t.equal(r.code, code, `${text.slice(0, 60)} -> ${code}`);
    if (typeof error === 'string') t.equal(r.error, error);
    else t.match(r.error, error);
  }
  // Rows the parser cannot produce: the table has them, and their frames match the schema.
  for (const code of [
    'BINARY_NOT_SUPPORTED',
    'USER_OFFLINE',
    'RATE_LIMITED',
    'NOT_IN_ROOM',
    'NOT_AVAILABLE',
    'NOT_IN_GROUP',
    'UNKNOWN_CONVERSATION',
  ] as const) {
    t.ok(isFrameErrorCode(code), code);
    const frame = JSON.parse(encodeError(code, FrameErrorText[code], 'c1'));
    t.ok(Value.Check(ServerErrorFrameSchema, frame), `${code} error frame matches the schema`);
  }
  const coalesced = encodeError('RATE_LIMITED', FrameErrorText.RATE_LIMITED, undefined, 37);
  t.equal(coalesced, JSON.stringify({ type: 'error', code: 'RATE_LIMITED', error: FrameErrorText.RATE_LIMITED, count: 37 }));
  t.ok(Value.Check(ServerErrorFrameSchema, JSON.parse(coalesced)), 'the coalesced RATE_LIMITED frame (count) matches the schema');
  t.notOk(Value.Check(ServerErrorFrameSchema, { type: 'error', code: 'RATE_LIMITED', error: 'x', count: 0 }), 'count is at least 1');
});

t.test('content nested too deeply is refused, not crashed on later', async (t) => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const ok = parse(`{"type":"room","room":"r","content":${nest(MAX_CONTENT_DEPTH)}}`);
  t.equal(ok.ok, true, `depth ${MAX_CONTENT_DEPTH} passes`);
  const deep = parse(`{"type":"room","room":"r","content":${nest(MAX_CONTENT_DEPTH + 1)},"id":"d"}`);
  t.same(deep.ok ? null : [deep.code, deep.ref], ['BAD_MESSAGE', 'd']);
  const huge = parse(`{"type":"message","to":"bob","content":${nest(100_000)}}`, { maxContentBytes: 1 << 26 });
  t.equal(huge.ok ? 'ok' : huge.code, 'BAD_MESSAGE', '100k levels');
});

t.test('a frame nested too deeply is refused before the parse, wherever the nesting is', async (t) => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  // Unclosed: JSON.parse would say BAD_JSON; the scan refuses it first.
  const unclosed = parse(`{"type":"message","to":"bob","content":${'['.repeat(MAX_FRAME_DEPTH)}`);
  t.same(unclosed.ok ? null : [unclosed.code, unclosed.error], [
    'BAD_MESSAGE',
    `frame must not be nested deeper than ${MAX_FRAME_DEPTH} levels (content: ${MAX_CONTENT_DEPTH})`,
  ]);
  const unknownField = parse(`{"type":"ping","extra":${nest(MAX_FRAME_DEPTH)}}`);
  t.equal(unknownField.ok ? 'ok' : unknownField.code, 'BAD_MESSAGE', 'an ignored field counts too');
  t.equal(parse(`{"type":"ping","extra":${nest(MAX_FRAME_DEPTH - 1)}}`).ok, true, 'as deep as a content may be: fine');
  const objects = `{"type":"room","room":"r","content":${'{"a":'.repeat(MAX_CONTENT_DEPTH + 1)}1${'}'.repeat(MAX_CONTENT_DEPTH + 1)},"id":"o"}`;
  t.same(((r) => (r.ok ? null : [r.code, r.ref]))(parse(objects)), ['BAD_MESSAGE', 'o'], 'objects count like arrays; the trailing id is the ref');
  // Brackets and escaped quotes inside strings are not nesting.
  const tricky = JSON.stringify({ type: 'message', to: 'bob', content: { s: `\\"${'[{'.repeat(200)}\\`, k: ['"]]]}}}', '\\'] } });
  t.equal(parse(tricky, { maxContentBytes: 65_536 }).ok, true, 'strings skipped exactly');
  const unterminated = parse(`{"type":"message","to":"bob","content":"${'['.repeat(100)}`);
  t.equal(unterminated.ok ? 'ok' : unterminated.code, 'BAD_JSON', "an unterminated string is the parser's to refuse");
  const noTailId = parse(`{"type":"room","id":"first","room":"r","content":${nest(MAX_FRAME_DEPTH)}}`);
  t.same(noTailId.ok ? null : [noTailId.code, noTailId.ref], ['BAD_MESSAGE', undefined], 'an id not at the end is not looked for');
});

t.test('a frame text longer than MAX_CONTENT_BYTES + the envelope allowance is TOO_LARGE unparsed', async (t) => {
  const max = 1000;
  const l = { maxContentBytes: max };
  const head = '{"type":"message","to":"bob","content":"';
  const exactly = (n: number) => head + 'x'.repeat(n - head.length - 2) + '"}';
  t.equal(parse(exactly(max + FRAME_ENVELOPE_ALLOWANCE), l).ok ? 'ok' : 'refused', 'refused', 'content itself over the limit');
  const atLimit = parse(exactly(max + FRAME_ENVELOPE_ALLOWANCE), { maxContentBytes: max + FRAME_ENVELOPE_ALLOWANCE });
  t.equal(atLimit.ok, true, 'sanity: a bigger content limit takes it');
  const junk = `not json at all ${'x'.repeat(max + FRAME_ENVELOPE_ALLOWANCE)}`;
  const r = parse(junk, l);
  t.same(
    r.ok ? null : [r.code, r.error],
    ['TOO_LARGE', `frame text must be at most ${max + FRAME_ENVELOPE_ALLOWANCE} characters (MAX_CONTENT_BYTES + ${FRAME_ENVELOPE_ALLOWANCE})`],
    'never parsed: not BAD_JSON',
  );
  const spaced = parse(`${'{"type":"ping"'}${' '.repeat(max + FRAME_ENVELOPE_ALLOWANCE)}}`, l);
  t.equal(spaced.ok ? 'ok' : spaced.code, 'TOO_LARGE', 'whitespace counts: the text is measured, not the content');
  const justUnder = `{"type":"ping"${' '.repeat(max + FRAME_ENVELOPE_ALLOWANCE - 15)}}`;
  t.equal(justUnder.length, max + FRAME_ENVELOPE_ALLOWANCE);
  t.equal(parse(justUnder, l).ok, true, 'a text of exactly the bound is parsed');
  const sdk = parseObj({ type: 'message', to: 'bob', content: 'x'.repeat(5000), id: 'c-77' }, l);
  t.same(sdk.ok ? null : [sdk.code, sdk.ref], ['TOO_LARGE', 'c-77'], "the SDK's trailing id is the ref");
});

t.test('numbers outside the doubles in content are BAD_MESSAGE; finite ones of any spelling pass', async (t) => {
  const l = { maxContentBytes: 65_536 };
  const refused = ['1e999', '-1e999', '9'.repeat(400), `-${'9'.repeat(309)}`, '[1,{"a":1E400}]', '{"deep":[[[[2e308]]]]}'];
  for (const content of refused) {
    const r = parse(`{"type":"message","to":"bob","content":${content},"id":"n"}`, l);
    t.same(r.ok ? null : [r.code, r.ref], ['BAD_MESSAGE', 'n'], content.slice(0, 30));
    if (!r.ok) t.match(r.error, /outside the double range/);
  }
  const accepted = ['1e308', '-1.7976931348623157e308', '9'.repeat(308), `0.${'1'.repeat(500)}`, '1e-999', '"1e999"', '[1e5,2E-3]', 'true'];
  for (const content of accepted) {
    const r = parse(`{"type":"room","room":"r","content":${content}}`, l);
    t.equal(r.ok, true, content.slice(0, 30));
    if (r.ok && r.frame.type === 'room' && typeof r.frame.content === 'number') t.ok(Number.isFinite(r.frame.content));
  }
});

t.test('checkContent (admin pushes): the same depth, number and size rules, bounded recursion', async (t) => {
  const nested = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;
  t.equal(checkContent(nested(MAX_CONTENT_DEPTH), 1 << 20), undefined, `depth ${MAX_CONTENT_DEPTH} passes`);
  t.same(checkContent(nested(MAX_CONTENT_DEPTH + 1), 1 << 20)?.code, 'BAD_MESSAGE');
  t.same(checkContent(nested(100_000), 1 << 30)?.code, 'BAD_MESSAGE', '100k levels: no stack overflow');
  t.match(checkContent(JSON.parse('{"a":[1e999]}'), 1000)?.error, /outside the double range/);
  t.same(checkContent(Number.NaN, 1000)?.code, 'BAD_MESSAGE');
  t.same(checkContent('x'.repeat(1000), 1000), { code: 'TOO_LARGE', error: 'content must be at most 1000 bytes JSON-encoded' });
  t.equal(checkContent('x'.repeat(998), 1000), undefined);
  t.equal(checkContent({ gold: 50, items: [1, 'a', null, { b: true }] }, 1000), undefined);
});

t.test('TOO_LARGE boundary is exactly maxContentBytes (JSON-encoded UTF-8)', async (t) => {
  const max = 1000;
  const msg = (content: unknown) => parseObj({ type: 'message', to: 'bob', content, id: 'c9' }, { maxContentBytes: max });
  const ascii = 'a'.repeat(max - 2); // + 2 quotes
  t.equal(msg(ascii).ok, true, 'ascii string at the limit');
  t.same(msg(ascii + 'a'), { ok: false, code: 'TOO_LARGE', error: 'content must be at most 1000 bytes JSON-encoded', ref: 'c9' });
  const multi = 'é'.repeat((max - 2) / 2); // 2 bytes each
  t.equal(Buffer.byteLength(JSON.stringify(multi)), max);
  t.equal(msg(multi).ok, true, 'two-byte chars at the limit');
  const over = msg(multi.slice(1) + 'éa');
  t.equal(over.ok ? 'ok' : over.code, 'TOO_LARGE', 'one byte over with two-byte chars');
  const escaped = '"'.repeat((max - 2) / 2); // each becomes \"
  t.equal(msg(escaped).ok, true, 'escapes count as encoded');
  t.equal(msg(escaped + '"').ok, false);
  const obj = { k: 'v'.repeat(max - 10) }; // {"k":"..."} = 8 + n
  t.equal(msg(obj).ok, true);
  t.equal(msg({ k: 'v'.repeat(max - 7) }).ok, false);
  const room = parseObj({ type: 'room', room: 'r', content: ascii + 'a' }, { maxContentBytes: max });
  t.equal(room.ok ? 'ok' : room.code, 'TOO_LARGE', 'room content too');
});

t.test('ref echoes the client id', async (t) => {
  const r = (v: unknown) => {
    const p = parseObj(v);
    return p.ok ? 'ok' : p.ref;
  };
  t.equal(r({ type: 'message', to: '!', content: 1, id: 'abc' }), 'abc', 'BAD_MESSAGE');
  t.equal(r({ type: 'message', to: 'bob', content: 'x'.repeat(5000), id: 'big' }), 'big', 'TOO_LARGE');
  t.equal(r({ type: 'nope', id: 'q' }), 'q', 'unknown type');
  t.equal(r({ type: 'ping', ts: 'x', id: 'p' }), 'p', 'ping');
  t.equal(r({ type: 'message', to: '!', content: 1, id: 'i'.repeat(65) }), undefined, 'too long: no ref');
  t.equal(r({ type: 'message', to: '!', content: 1, id: 5 }), undefined, 'not a string: no ref');
  const noRef = parseObj({ type: 'join' });
  t.notOk('ref' in noRef, 'no ref key when no id');
});

t.test('encoders', async (t) => {
  const values = [0, -0, 1, -1, 123, 1.5, -2.25e-7, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, -Number.MAX_SAFE_INTEGER, 1763800000123];
  for (const ts of [...values, undefined]) {
    const s = encodePong(ts, 1763800000000);
    t.equal(s, JSON.stringify({ type: 'pong', ts, serverTime: 1763800000000 }), `pong ts=${ts}`);
    t.ok(Value.Check(ServerPongFrameSchema, JSON.parse(s)));
  }
  t.equal(encodePong(undefined, 5), '{"type":"pong","serverTime":5}', 'no ts: field omitted');
  t.equal(encodePong(Infinity, 5), '{"type":"pong","serverTime":5}', 'non-finite ts: omitted, still JSON');
  const texts = ['plain', 'quote " backslash \\ nl \n', 'ünï \u2028 😀 \ud800', ''];
  for (const text of texts) {
    t.equal(encodeError('BAD_MESSAGE', text), JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', error: text }));
    t.equal(encodeError('TOO_LARGE', 'x', text), JSON.stringify({ type: 'error', code: 'TOO_LARGE', error: 'x', ref: text }));
  }
  const frames: ServerFrame[] = [
    { type: 'connected', sessionId: 's', userId: 'alice', nodeId: 'gw-1', heartbeat: { intervalMs: 1000, timeoutMs: 10000 }, serverTime: 1 },
    { type: 'pong', ts: 1, serverTime: 2 },
    { type: 'message', from: 'alice', content: { a: 1 }, id: 'm', ts: 3 },
    { type: 'ack', id: 'c', status: 'delivered' },
    { type: 'ack', status: 'queued' },
    { type: 'joined', room: 'lobby' },
    { type: 'left', room: 'lobby' },
    { type: 'room', room: 'lobby', from: 'alice', content: 'x', id: 'm2', ts: 4 },
    { type: 'broadcast', content: [1], ts: 5 },
    { type: 'error', code: 'NOT_IN_ROOM', error: 'join first', ref: 'c' },
    { type: 'kicked', reason: 'rate limited' },
    { type: 'reconnect', reason: 'draining', afterMs: 500 },
  ];
  for (const frame of frames) {
    const s = encodeServerFrame(frame);
    t.same(JSON.parse(s), frame);
    t.ok(Value.Check(ServerFrameSchema, JSON.parse(s)), `${frame.type} matches ServerFrameSchema`);
  }
});

t.test('the canonical ping fast path agrees with JSON.parse', async (t) => {
  const rand = rng(7);
  let bad = 0;
  for (let i = 0; i < 3000; i++) {
    const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
    const raws = [String(x), x.toExponential(), x.toFixed(3), String(Math.round(x)), `${Math.floor(rand() * 9)}e${Math.floor(rand() * 700 - 350)}`];
    for (const raw of raws) {
      const text = `{"type":"ping","ts":${raw}}`;
      let expected: unknown;
      try {
        expected = JSON.parse(text).ts;
      } catch {
        continue;
      }
      const r = parse(text);
      const want = Number.isFinite(expected) ? { ok: true, frame: { type: 'ping', ts: expected } } : 'BAD_MESSAGE';
      const got = r.ok ? r : r.code;
      if (JSON.stringify(got) !== JSON.stringify(want) || (r.ok && r.frame.type === 'ping' && !Object.is(r.frame.ts, expected))) bad++;
    }
  }
  t.equal(bad, 0);
});

t.test("the gateway's ping path (ts echoed as text) answers what the parsed ping would", async (t) => {
  const rand = rng(11);
  let checked = 0;
  let bad = 0;
  for (let i = 0; i < 3000; i++) {
    const x = (rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20);
    const raws = [
      String(x),
      x.toExponential(),
      x.toFixed(3),
      String(Math.round(x)),
      `${Math.floor(rand() * 9)}E${Math.floor(rand() * 700 - 350)}`,
      '-0',
      '0.10',
    ];
    for (const raw of raws) {
      const text = `{"type":"ping","ts":${raw}}`;
      const parsed = parse(text);
      const tsText = canonicalPingTs(text);
      if (!parsed.ok) {
        if (tsText !== null) bad++; // 1e400 and friends: the general path reports them
        continue;
      }
      if (tsText === null) {
        if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(raw)) bad++; // canonical, but missed
        continue;
      }
      checked++;
      const pong = JSON.parse(encodePongText(tsText, pongTail(1763800000123)));
      const want = JSON.parse(encodePong(parsed.frame.type === 'ping' ? parsed.frame.ts : undefined, 1763800000123));
      // == on numbers: -0 and 0 are the same JSON number
      if (pong.ts !== want.ts || pong.serverTime !== want.serverTime || Object.keys(pong).join() !== Object.keys(want).join()) bad++;
    }
  }
  t.ok(checked > 10_000, `${checked} canonical pings compared`);
  t.equal(bad, 0);
  t.equal(canonicalPingTs('{"type":"ping"}'), '', 'no ts');
  t.equal(encodePongText('', pongTail(5)), '{"type":"pong","serverTime":5}');
  t.equal(encodePongText('-1.5e3', pongTail(5)), '{"type":"pong","ts":-1.5e3,"serverTime":5}', 'ts echoed as sent');
  t.equal(canonicalPingTs('{"type":"ping","ts":1e400}'), null, 'not a finite number: the parser reports it');
  t.equal(canonicalPingTs('{"type":"ping","ts":-2E+999}'), null);
  for (const other of [
    '{"type":"ping", "ts":1}',
    '{"ts":1,"type":"ping"}',
    '{"type":"ping","ts":01}',
    '{"type":"ping","ts":"1"}',
    '{"type":"pong"}',
    `{"type":"ping","ts":${'1'.repeat(60)}}`,
    '{"type":"ping","ts":1}\n',
  ]) {
    t.equal(canonicalPingTs(other), null, `not canonical: ${other.slice(0, 40)}`);
  }
});

t.test('parser and schemas accept the same frames (random objects)', async (t) => {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const anyValue = (d: number): unknown => {
    const k = Math.floor(rand() * (d > 3 ? 6 : 8));
    if (k === 6) return [anyValue(d + 1), anyValue(d + 1)];
    if (k === 7) return { k: anyValue(d + 1), __proto__x: 1 };
    return [null, true, rand() * 1e6, 'str', '', 'a'.repeat(70)][k];
  };
  const field = (good: unknown[]): unknown => (rand() < 0.7 ? pick(good) : anyValue(0));
  let mismatches = 0;
  let accepted = 0;
  for (let i = 0; i < 4000; i++) {
    const obj: Record<string, unknown> = {};
    if (rand() < 0.95) obj.type = field([...CLIENT_FRAME_TYPES]);
    if (rand() < 0.7) obj.to = field(['bob', 'a:b', 'x'.repeat(64), 'x'.repeat(65), 'no space']);
    if (rand() < 0.7) obj.room = field(['lobby', 'r'.repeat(128), 'r'.repeat(129)]);
    if (rand() < 0.7) obj.content = anyValue(0);
    if (rand() < 0.5) obj.id = field(['c1', '', 'i'.repeat(64), 'i'.repeat(65)]);
    if (rand() < 0.5) obj.ts = field([1, -3.5, 0]);
    const r = parseObj(obj, { maxContentBytes: 1 << 20 });
    if (r.ok !== Value.Check(ClientFrameSchema, obj)) mismatches++;
    if (r.ok) accepted++;
  }
  t.equal(mismatches, 0);
  t.ok(accepted > 400 && accepted < 3600, `a real mix of valid (${accepted}) and invalid frames`);
});

t.test('fuzz: never throws, always a table code', async (t) => {
  const rand = rng(1234);
  const valid = [
    '{"type":"ping","ts":1763800000123}',
    '{"type":"message","to":"bob","content":{"hp":[1,2,3],"s":"ü😀"},"id":"c-1"}',
    '{"type":"room","room":"lobby","content":"hello","id":"r1"}',
    '{"type":"join","room":"lobby"}',
    '{"type":"ack","id":"srv-9"}',
  ];
  const generators: (() => string)[] = [
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))).toString('utf8'),
    () => Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))).toString('latin1'),
    () => {
      const v = valid[Math.floor(rand() * valid.length)] ?? '';
      return v.slice(0, Math.floor(rand() * v.length));
    },
    () => {
      const v = valid[Math.floor(rand() * valid.length)] ?? '';
      const i = Math.floor(rand() * v.length);
      return v.slice(0, i) + String.fromCharCode(Math.floor(rand() * 0x10000)) + v.slice(i + 1);
    },
    () => `{"type":"ping","ts":${Math.floor(rand() * 9)}e${Math.floor(rand() * 800 - 400)}}`,
    () => `{"type":"message","to":"bob","content":${'9'.repeat(Math.floor(rand() * 400))}}`,
    () => `{"type":"room","room":"r","content":${rand() < 0.5 ? '-' : ''}1e${Math.floor(rand() * 1000)}}`,
    () => JSON.stringify({ type: [null, 1, 'ping', 'message', {}, [], true][Math.floor(rand() * 7)], to: rand(), room: {}, content: undefined, id: [] }),
    () =>
      `{"__proto__":{"type":"ping"},"constructor":{"prototype":{"x":1}},"type":"${valid.length > 0 ? 'room' : ''}","room":"r","content":{"__proto__":null}}`,
    () => ['[', '{"a":'][Math.floor(rand() * 2)]!.repeat(Math.floor(rand() * 5000)),
  ];
  const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);
  const inputs: string[] = [
    deep(100_000, '[', ']', ''),
    deep(100_000, '{"a":', '}'),
    `{"type":"message","to":"bob","content":${deep(100_000, '[', ']', '')}}`,
    `{"type":"room","room":"r","content":${deep(100_000, '{"a":', '}')},"id":"deep"}`,
    '{"type":"ping","ts":' + '9'.repeat(5000) + '}',
    '{"type":"ping","ts":-1e400}',
    '\u0000',
    '\ud800',
    '{"type":"ping","ts":1}\u0000',
    'undefined',
    'NaN',
    'Infinity',
  ];
  while (inputs.length < 6000) inputs.push(generators[Math.floor(rand() * generators.length)]!());
  let thrown = 0;
  let badShape = 0;
  let sizeBoundBroken = 0;
  for (const input of inputs) {
    for (const maxContentBytes of [16, 65_536]) {
      let r: ParseResult;
      try {
        r = parseClientFrame(input, { maxContentBytes });
      } catch {
        thrown++;
        continue;
      }
      if (r.ok) {
        if (!CLIENT_FRAME_TYPES.includes(r.frame.type) || !Value.Check(ClientFrameSchema, r.frame)) badShape++;
        if ('content' in r.frame && Buffer.byteLength(JSON.stringify(r.frame.content)) > maxContentBytes) sizeBoundBroken++;
      } else if (!isFrameErrorCode(r.code) || !FRAME_ERROR_CODES.includes(r.code) || r.error.length === 0 || (r.ref !== undefined && r.ref.length > 64)) {
        badShape++;
      }
    }
  }
  t.equal(inputs.length, 6000, 'inputs');
  t.equal(thrown, 0, 'never throws');
  t.equal(badShape, 0, 'results are well-formed');
  t.equal(sizeBoundBroken, 0, 'accepted content never exceeds maxContentBytes');
});

t.test("the kicked reasons are protocol.md's close-code table, and only those codes have one", async (t) => {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Close codes'), doc.indexOf('## Send queues'));
  const documented: Record<number, string> = {};
  for (const [, code, kicked] of section.matchAll(/^\| (\d{4}) \| [^|]+ \| `([a-z_]+)` \|/gm)) documented[Number(code)] = kicked!;
  t.same(documented, { 4001: 'replaced', 4002: 'logged_out', 4003: 'slow_consumer', 4008: 'rate_limited' });
  t.same(
    Object.fromEntries(Object.entries(KickedReason)),
    Object.fromEntries(Object.entries(documented).map(([code, reason]) => [code, reason])),
    'the code and the documentation agree',
  );
});

t.test('close-code and error-code tables', async (t) => {
  t.same(Object.values(CloseCode), [1000, 1001, 1009, 1012, 4000, 4001, 4002, 4003, 4008]);
  for (const code of Object.values(CloseCode)) {
    const reason = closeReason(code);
    t.ok(reason.length > 0 && Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES, `${code}: "${reason}"`);
  }
  t.same([...NO_RECONNECT_CODES].sort(), [1000, 1009, 4001, 4002], 'stop after normal, too big, replaced, logged out');
  t.equal(closeAdvice(4008), 'reconnect-later');
  t.equal(closeAdvice(1006), 'reconnect', 'codes outside the table: connection lost');
  const reconnects = (code: number) => closeAdvice(code) !== 'stop';
  t.ok(reconnects(1012) && reconnects(4000) && reconnects(4003) && !reconnects(4001));
  t.same(FRAME_ERROR_CODES, [
    'BAD_JSON',
    'BAD_MESSAGE',
    'BINARY_NOT_SUPPORTED',
    'TOO_LARGE',
    'USER_OFFLINE',
    'UNKNOWN_USER',
    'QUOTA_EXCEEDED',
    'RATE_LIMITED',
    'NOT_IN_ROOM',
    'NOT_AVAILABLE',
    'FORBIDDEN',
    'ROOM_RATE_LIMITED',
    'NOT_IN_GROUP',
    'UNKNOWN_CONVERSATION',
    'NOT_STORED',
  ]);
  for (const code of FRAME_ERROR_CODES) t.ok(FrameErrorText[code].length > 0, code);
  t.notOk(isFrameErrorCode('toString'), 'no prototype keys');
});
