import t from 'tap';
import { backends, expiryTest } from './backends.ts';
import { runPresenceExpiryContract } from './presence-store.contract-expiry.ts';

// Memory runs on a fake clock; Redis on real time: its waits are real, so the TTL is short, yet
// long enough that a stalled test process (2 shared cores) never sees a key expire between two steps.
for (const backend of backends) runPresenceExpiryContract(expiryTest(t, backend, 1500));
