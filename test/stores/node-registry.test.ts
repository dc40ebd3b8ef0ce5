import t from 'tap';
import { backends, storeTest } from './backends.ts';
import { runNodeRegistryContract } from './node-registry.contract.ts';

for (const backend of backends) runNodeRegistryContract(storeTest(t, backend), backend.loseData);
