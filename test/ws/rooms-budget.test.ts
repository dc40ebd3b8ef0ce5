/**
 * The per-session join/leave budget (MAX_ROOM_CHANGES_PER_SEC) on both backends: joins over it
 * are refused with ROOM_RATE_LIMITED in frame order and change nothing, the connection stays, the
 * SDK's `join()` rejects with that code, and the budget refills.
 */
import t from 'tap';
import { buildTestApp, type Backend } from '../helpers/build.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { GatehouseError } from '../../src/client/errors.ts';

for (const backend of ['embedded', 'real'] as Backend[]) {
  t.test(`join/leave budget (${backend})`, async (t) => {
    const h = await buildTestApp(t, backend, { MAX_ROOM_CHANGES_PER_SEC: '3', HEARTBEAT_TIMEOUT_MS: '60000' });
    if (!h) return;
    const { client } = await TestClient.open(`${h.wsUrl}/ws?token=${h.token('eager')}`);
    for (const room of ['a', 'b', 'c', 'd']) client.send({ type: 'join', room });
    client.send({ type: 'leave', room: 'a' });
    await client.ping();
    const deadline = Date.now() + 5000;
    const answers = () => client.frames.filter((f) => f.type === 'joined' || f.type === 'left' || f.type === 'error');
    while (answers().length < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    t.match(answers(), [
      { type: 'joined', room: 'a' },
      { type: 'joined', room: 'b' },
      { type: 'joined', room: 'c' },
      { type: 'error', code: 'ROOM_RATE_LIMITED', error: /join d refused.*MAX_ROOM_CHANGES_PER_SEC/ },
      { type: 'error', code: 'ROOM_RATE_LIMITED', error: /leave a refused/ },
    ]);
    client.send({ type: 'room', room: 'd', content: 1, id: 'm1' });
    t.match(await client.next('error', 5000, (f) => f.ref === 'm1'), { code: 'NOT_IN_ROOM' }, 'the refused join changed nothing');
    client.send({ type: 'room', room: 'a', content: 1, id: 'm2' });
    // Still a member (an ack, not NOT_IN_ROOM); alone in the room, so nobody took it: `dropped`.
    t.match(await client.next('ack', 5000, (f) => f.id === 'm2'), { status: 'dropped' }, 'the refused leave changed nothing');
    t.notOk(client.closedWith, 'the connection stays');

    // The SDK answers the pending join with the refusal (no `ref`: the oldest join/leave).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const sdkJoins = ['e', 'f', 'g', 'h'].map((room) =>
      client.sdk.join(room).then(
        () => 'joined',
        (error: unknown) => (error instanceof GatehouseError ? error.code : String(error)),
      ),
    );
    t.same(await Promise.all(sdkJoins), ['joined', 'joined', 'joined', 'ROOM_RATE_LIMITED'], 'a burst of 3, then refused');
    await new Promise((resolve) => setTimeout(resolve, 400));
    t.same(await client.sdk.join('h'), { type: 'joined', room: 'h' }, 'refilled: about 3 per second');
    await client.close();
  });
}
