/**
 * frameOutType names the type of every frame the protocol encoders produce, without parsing:
 * if an encoder ever stopped putting `type` first, frames would be counted as `other` and this
 * fails.
 */
import t from 'tap';
import { FRAME_OUT_TYPES, FrameOut, frameOutType } from '../../src/gateway/gateway-counters.ts';
import { encodeError, encodePong, encodeServerFrame } from '../../src/protocol/frames.ts';

t.test('every server frame type is recognised from its encoding', async (t) => {
  const frames: Array<[string, string]> = [
    [
      'connected',
      encodeServerFrame({ type: 'connected', sessionId: 's', userId: 'u', nodeId: 'n', heartbeat: { intervalMs: 1, timeoutMs: 2 }, serverTime: 3 }),
    ],
    ['pong', encodePong(5, 6)],
    ['pong', encodePong(undefined, 6)],
    ['message', encodeServerFrame({ type: 'message', from: 'a', content: { type: 'room' }, id: 'x', ts: 1 })],
    ['message', encodeServerFrame({ ...{ type: 'message' as const, from: 'a', content: 'hi', id: 'x', ts: 1 }, offline: true })],
    ['ack', encodeServerFrame({ type: 'ack', id: 'c1', status: 'queued' })],
    ['error', encodeError('BAD_JSON', 'nope')],
    ['error', encodeError('NOT_IN_ROOM', 'join first', 'ref-1')],
    ['joined', encodeServerFrame({ type: 'joined', room: 'r' })],
    ['left', encodeServerFrame({ type: 'left', room: 'r' })],
    ['room', encodeServerFrame({ type: 'room', room: 'r', from: 'a', content: 1, id: 'i', ts: 1 })],
    ['broadcast', encodeServerFrame({ type: 'broadcast', content: 'maintenance', ts: 1 })],
    ['kicked', encodeServerFrame({ type: 'kicked', reason: 'admin' })],
    ['reconnect', encodeServerFrame({ type: 'reconnect', reason: 'server restarting', afterMs: 10 })],
    ['group', encodeServerFrame({ type: 'group', group: 'g', conversation: 'group:g', seq: 1, from: 'a', content: 1, id: 'i', ts: 1 })],
    ['history', encodeServerFrame({ type: 'history', id: 'h', conversation: 'group:g', messages: [] })],
    ['recovered', encodeServerFrame({ type: 'recovered', messages: 2 })],
  ];
  for (const [type, frame] of frames) t.equal(FRAME_OUT_TYPES[frameOutType(frame)], type, `${frame.slice(0, 40)} -> ${type}`);
  t.same([...new Set(frames.map(([type]) => type))].sort(), FRAME_OUT_TYPES.filter((n) => n !== 'other').sort(), 'every label is exercised');
});

t.test('anything else is other', async (t) => {
  for (const frame of ['', '{}', '{"type":"pongx"}', '{"type":"ro"}', '{"kind":"message"}', '{"type":"messages"}', 'x'.repeat(20)]) {
    t.equal(frameOutType(frame), FrameOut.Other, JSON.stringify(frame));
  }
});
