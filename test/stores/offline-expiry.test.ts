/**
 * The memory store's expiry of offline entries, on a fake clock: the time-ordered queue
 * (OfflineExpiry) and the sweep of MemoryOnlineState, which removes due entries in batches at
 * the start of frequent calls and leaves everything else alone.
 */
import t from 'tap';
import { OfflineExpiry } from '../../src/stores/memory/offline-expiry.ts';
import { MemoryOnlineState } from '../../src/stores/memory/memory-online-state.ts';
import { createMemoryStores } from '../../src/stores/memory/memory-stores.ts';
import { ManualClock } from '../helpers/core.ts';
import { connect } from './contract-helpers.ts';

t.test('OfflineExpiry: earliest first, in batches; reschedule and cancel', async (t) => {
  const expiry = new OfflineExpiry();
  expiry.schedule('c', 300);
  expiry.schedule('a', 100);
  expiry.schedule('b', 100);
  expiry.schedule('d', 400);
  t.equal(expiry.size, 4);
  t.same(expiry.takeDue(99, 10), [], 'nothing due yet');
  t.same(expiry.takeDue(300, 2), ['a', 'b'], 'at most the limit, earliest first (ties by userId)');
  expiry.schedule('c', 1000); // like PEXPIRE again: the new time replaces the old one
  t.same(expiry.takeDue(300, 10), [], 'rescheduled: no longer due at its old time');
  expiry.cancel('d');
  t.equal(expiry.expiresAt('d'), undefined, 'cancelled');
  t.same(expiry.takeDue(999, 10), []);
  t.same(expiry.takeDue(1000, 10), ['c']);
  t.equal(expiry.size, 0);
  expiry.cancel('unknown'); // harmless
});

t.test('memory store: the sweep removes expired offline entries in batches, online ones stay', async (t) => {
  const clock = new ManualClock(1_000_000);
  const ttlMs = 60_000;
  const state = new MemoryOnlineState({ offlineTtlMs: ttlMs, now: clock.now });
  const { presence, outbox } = createMemoryStores(state);
  const users = Array.from({ length: 2500 }, (_, i) => `gone-${i}`);
  for (const userId of users) {
    const login = await connect(presence, userId, 'A', 1000);
    await presence.endSession({ userId, nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 });
  }
  for (let i = 0; i < 10; i++) await connect(presence, `online-${i}`, 'A', 1000);
  const claimed = await outbox.claimPendingLogouts(5000, 10_000, 60_000);
  t.equal(claimed.length, users.length);
  await outbox.ackPendingLogouts(claimed);
  t.equal(state.expiry.size, users.length, 'every acked user is scheduled');

  clock.advance(ttlMs - 1);
  state.sweepExpired();
  t.equal(state.players.size, users.length + 10, 'one ms before the TTL: nothing removed');

  clock.advance(1);
  state.sweepExpired();
  t.equal(state.players.size, users.length - 1000 + 10, 'one batch per sweep');
  // The frequent calls sweep too: a claim (the writer polls every second) and a lookup.
  await outbox.claimPendingLogouts(10, 10_000, 1000);
  await presence.getPlayer('online-0');
  t.equal(state.players.size, 10, 'drained by the next calls; only the online users are left');
  t.equal(state.expiry.size, 0);
  t.equal(await presence.countOnline(), 10);
  t.equal(await presence.getPlayer('gone-0'), null);
});

t.test('memory store: the TTL runs on the store clock from the ack, not from the logout', async (t) => {
  const clock = new ManualClock(5_000_000);
  const state = new MemoryOnlineState({ offlineTtlMs: 1000, now: clock.now });
  const { presence, outbox } = createMemoryStores(state);
  const login = await connect(presence, 'slow-write', 'A', 1000);
  await presence.endSession({ userId: 'slow-write', nodeId: 'A', logicalSessionId: login.logicalSessionId, reason: 'closed', now: 2000 });
  const claimed = await outbox.claimPendingLogouts(10, 10_000, 60_000);
  clock.advance(10_000); // the database was slow: the write took 10 s
  await outbox.ackPendingLogouts(claimed);
  t.equal(state.expiry.expiresAt('slow-write'), clock.now() + 1000);
  clock.advance(999);
  t.match(await presence.getPlayer('slow-write'), { status: 'offline' }, 'kept a full TTL after the ack');
  clock.advance(1);
  t.equal(await presence.getPlayer('slow-write'), null);
});

t.test('memory store: the TTL setting is checked', async (t) => {
  t.throws(() => new MemoryOnlineState({ offlineTtlMs: 0 }), RangeError);
  t.throws(() => new MemoryOnlineState({ offlineTtlMs: 1.5 }), RangeError);
});
