/**
 * The admin pushes take content by the WebSocket path's rules: nested at most MAX_CONTENT_DEPTH
 * levels, no number outside the doubles, at most MAX_CONTENT_BYTES. Content nested 10k levels
 * used to answer 500 GW_INTERNAL (JSON.stringify overflowed the stack); 1e999 was pushed as null.
 */
import t from 'tap';
import { MAX_CONTENT_DEPTH } from '../../src/protocol/frames.ts';
import { buildTestApp, TEST_ADMIN_TOKEN } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';

const nest = (n: number, inner = '') => '['.repeat(n) + inner + ']'.repeat(n);
const nestObjects = (n: number) => '{"constructor":'.repeat(n) + '1' + '}'.repeat(n);

t.test('admin pushes: depth, non-finite numbers and size, coded 400s', async (t) => {
  const h = (await buildTestApp(t, 'real', { MAX_CONTENT_BYTES: '4096' }))!;
  if (!h) return;
  const { client: player } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('p1')}`);
  player.send({ type: 'join', room: 'lobby' });
  await player.next('joined');
  const routes = ['/api/broadcast', '/api/users/p1/messages', '/api/rooms/lobby/messages'];
  /** POSTs `{"content":<contentText>}` as raw text: JSON.stringify cannot write what is tested here. */
  const post = async (url: string, contentText: string) => {
    const res = await h.app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      payload: `{"content":${contentText}}`,
    });
    return { status: res.statusCode, body: res.json() as { code?: string; message?: string } };
  };

  const refused: Array<[string, string, RegExp]> = [
    ['10k nested arrays', nest(10_000), /nested deeper than 64/],
    ['10k nested objects (a key the body parser scans)', nestObjects(10_000), /nested deeper than 64/],
    [`${MAX_CONTENT_DEPTH + 1} levels`, nest(MAX_CONTENT_DEPTH + 1), /nested deeper/],
    ['1e999', '1e999', /outside the double range/],
    ['-1e999 deep inside', '{"a":[1,{"b":-1e999}]}', /outside the double range/],
    ['a 400-digit integer', '9'.repeat(400), /outside the double range/],
  ];
  for (const url of routes) {
    for (const [name, text, message] of refused) {
      const answer = await post(url, text);
      t.equal(answer.status, 400, `${url}: ${name} -> 400`);
      t.equal(answer.body.code, 'GW_BAD_CONTENT', `${url}: ${name} -> GW_BAD_CONTENT`);
      t.match(answer.body.message, message);
    }
    const big = await post(url, JSON.stringify('z'.repeat(5000)));
    t.same([big.status, big.body.code], [400, 'GW_TOO_LARGE'], `${url}: over MAX_CONTENT_BYTES`);
  }
  await player.ping();
  t.notOk(
    player.frames.some((f) => f.type === 'broadcast' || f.type === 'message' || f.type === 'room'),
    'nothing refused was delivered',
  );

  const accepted: Array<[string, unknown]> = [
    [nest(MAX_CONTENT_DEPTH), JSON.parse(nest(MAX_CONTENT_DEPTH))],
    ['1e308', 1e308],
    ['9'.repeat(300), Number('9'.repeat(300))],
    ['"1e999"', '1e999'],
  ];
  for (const [text, expected] of accepted) {
    t.equal((await post('/api/broadcast', text)).status, 200, `${text.slice(0, 20)} accepted`);
    t.same((await player.next('broadcast')).content, expected, 'and delivered as sent');
  }
  t.equal((await post('/api/users/p1/messages', '1e308')).status, 200);
  t.equal((await player.next('message')).content, 1e308);
  t.equal((await post('/api/rooms/lobby/messages', '1e308')).status, 200);
  t.equal((await player.next('room')).content, 1e308);
  await player.close();
});
