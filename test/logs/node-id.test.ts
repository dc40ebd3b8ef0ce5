/**
 * `nodeId` appears once per log line: the logger's base carries it; a log call naming this node
 * again adds nothing, one naming another node writes it as `peerNodeId` (pino never merges keys,
 * so either would otherwise print `"nodeId"` twice and JSON readers would keep the last).
 */
import t from 'tap';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { loggerOptions } from '../../src/logger.ts';

t.test('a log call naming a node: dropped when it is this node, peerNodeId when another', async (t) => {
  const config = loadConfig({ NODE_ID: 'gw-self', AUTH_MODE: 'none' });
  const lines: string[] = [];
  const app = Fastify({ logger: { ...(loggerOptions(config) as object), stream: { write: (line: string) => void lines.push(line) } } });
  t.teardown(() => app.close());
  const log = app.log;
  log.info({ nodeId: 'gw-self', userId: 'u' }, 'own node');
  log.warn({ nodeId: 'gw-other', userId: 'u' }, 'notice not sent');
  log.child({ sessionId: 's' }).info('child');
  log.info('plain');
  for (const line of lines) t.equal(line.split('"nodeId"').length, 2, `one nodeId key: ${line.trim()}`);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(parsed[0], { nodeId: 'gw-self', userId: 'u', msg: 'own node' });
  t.match(parsed[1], { nodeId: 'gw-self', peerNodeId: 'gw-other', userId: 'u' });
  t.match(parsed[2], { nodeId: 'gw-self', sessionId: 's' });
});
