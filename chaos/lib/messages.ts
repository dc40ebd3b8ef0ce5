/** The messages between the orchestrator (chaos/run.ts) and its bot worker processes. */

export interface BotSpec {
  index: number;
  userId: string;
  /** Index of the node the bot connects to first. */
  home: number;
}

export interface ChurnMix {
  /** Shares of the bots that quit cleanly, vanish (lost network) and freeze (game loop); the rest stay. */
  quit: number;
  vanish: number;
  freeze: number;
}

export interface WorkerInit {
  type: 'init';
  worker: number;
  bots: BotSpec[];
  nodePorts: number[];
  seed: number;
  rampMs: number;
  mix: ChurnMix;
  outFile: string;
}

export type BotStatus = 'connected' | 'connecting' | 'quit' | 'vanished' | 'frozen';

/** Every bot has connected once: churn events start within [churnFrom, churnUntil] (epoch ms). */
export interface WorkerGo {
  type: 'go';
  churnFrom: number;
  churnUntil: number;
}

export type ToWorker = WorkerInit | WorkerGo | { type: 'end' } | { type: 'finish' };

export type FromWorker =
  | { type: 'ready'; connected: number }
  | { type: 'silent'; userId: string; kind: 'vanish' | 'freeze'; lastFrame: number; at: number; nodeId: string | null }
  | { type: 'back'; userId: string; at: number }
  | { type: 'state'; bots: Array<{ userId: string; status: BotStatus; since: number }> }
  | { type: 'done' };

/** One connection of a bot, as the bot writes it to its JSONL record (read by chaos/check.ts). */
export interface ConnRecord {
  ev: 'conn';
  u: string;
  proxy: number;
  open: number;
  connected: number | null;
  sid: string | null;
  node: string | null;
  close: number | null;
  code: number | null;
  reason: string | null;
  byClient: boolean | null;
  kicked: Array<[number, string]>;
  reconnect: Array<[number, number | null]>;
  pings: number;
  pongs: number;
  firstPong: number | null;
  lastPong: number | null;
  lastPing: number | null;
  gaps: Array<[number, number]>;
}
