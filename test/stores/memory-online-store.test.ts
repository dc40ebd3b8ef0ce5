import t from 'tap';
import { MemoryOnlineStore } from '../../src/stores/memory/memory-online-store.ts';
import { runOnlineStoreContract } from './online-store.contract.ts';

// Losing everything, for a single process, is starting over with a fresh store.
runOnlineStoreContract(t, 'memory', async () => new MemoryOnlineStore(), async () => new MemoryOnlineStore());
