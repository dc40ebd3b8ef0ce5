import t from 'tap';
import { backends, storeTest } from './backends.ts';
import { runLocksContract } from './locks.contract.ts';

for (const backend of backends) runLocksContract(storeTest(t, backend));
