import t from 'tap';
import { backends, expiryTest } from './backends.ts';
import { runPresenceExpiryContract } from './presence-store.contract-expiry.ts';

// Memory runs on a fake clock; Redis on real time, so the TTL is short (its waits are real).
for (const backend of backends) runPresenceExpiryContract(expiryTest(t, backend, 300));
