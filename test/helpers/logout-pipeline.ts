/**
 * A started logout pipeline with the tests' short delays (retries from 20 ms, polls every 50 ms),
 * stopped at teardown. Options override the defaults; the stores and repository are the test's.
 */
import type { Test } from 'tap';
import { LogoutPipeline, type LogoutPipelineOptions } from '../../src/presence/logout-pipeline.ts';
import { collectingLogger } from './core.ts';

type Required = Pick<LogoutPipelineOptions, 'presence' | 'outbox' | 'repository'>;

export function startTestPipeline(t: Pick<Test, 'teardown'>, options: Required & Partial<LogoutPipelineOptions>): LogoutPipeline {
  const pipeline = new LogoutPipeline({
    nodeId: 'n1',
    log: collectingLogger(),
    now: Date.now,
    batchMax: 500,
    retryBaseMs: 20,
    retryMaxMs: 100,
    pollMs: 50,
    ...options,
  });
  pipeline.start();
  t.teardown(() => pipeline.stop());
  return pipeline;
}
