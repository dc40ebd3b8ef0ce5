import t from 'tap';
import { backends, storeTest } from './backends.ts';
import { runLogoutOutboxContract } from './logout-outbox.contract.ts';

for (const backend of backends) runLogoutOutboxContract(storeTest(t, backend));
