import t from 'tap';
import { backends, storeTest } from './backends.ts';
import { runPresenceStoreContract } from './presence-store.contract.ts';

for (const backend of backends) runPresenceStoreContract(storeTest(t, backend));
