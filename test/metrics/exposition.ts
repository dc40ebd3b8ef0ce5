/**
 * A strict checker of the Prometheus text exposition format 0.0.4, for the tests. There is no
 * maintained parser on npm (`parse-prometheus-text-format` is a lenient port with a single
 * release line and no activity for years), so this one follows the format's grammar and rules
 * and fails on anything Prometheus would reject or silently misread:
 * - each sample line is parsed with the grammar (metric name, label names, escaped label
 *   values, Go float value, optional integer timestamp) and re-serialized canonically; the
 *   round trip must reproduce the line byte for byte (catches stray spaces, bad escapes);
 * - `# HELP` / `# TYPE` at most once per family, TYPE before the family's first sample, known
 *   types, samples of a family contiguous, no duplicate series, no reserved `__` labels;
 * - counters non-negative; histograms: `_bucket` series with `le`, ascending bounds,
 *   cumulative (non-decreasing) counts, a `+Inf` bucket equal to `_count`, and `_sum`;
 * - the text ends with a newline.
 * It returns the families, so tests can read values.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** Sample name (for a histogram: x_bucket, x_sum, x_count). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

export class ExpositionError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/**
 * The float forms Prometheus accepts: Go's strconv.ParseFloat without hex and underscores
 * (decimal, exponent, and case-insensitive NaN, ±Inf, ±Infinity; prom-client writes `Nan`).
 */
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[nN][aA][nN]|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?))$/;
const TIMESTAMP = /^-?\d+$/;

function parseFloatStrict(text: string): number | undefined {
  if (!FLOAT.test(text)) return undefined;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf/i.test(text)) return Number.NEGATIVE_INFINITY;
  return Number(text);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Reads `{name="value",...}` starting at `text[0] === '{'`; returns the labels and the rest. */
function parseLabels(text: string, fail: (why: string) => never): { labels: Array<[string, string]>; rest: string } {
  const labels: Array<[string, string]> = [];
  let i = 1;
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('label without =');
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (text[eq + 1] !== '"') fail('label value not quoted');
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) fail('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(`bad escape \\${next ?? ''} in label value`);
        j += 2;
        continue;
      }
      if (c === '\n') fail('raw newline in label value');
      value += c;
      j++;
    }
    labels.push([name, value]);
    i = j + 1;
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] !== '}') fail('expected , or } after a label');
  }
}

function serializeSample(name: string, labels: Array<[string, string]>, valueText: string, timestamp: string | undefined): string {
  const labelText = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : '';
  return `${name}${labelText} ${valueText}${timestamp === undefined ? '' : ` ${timestamp}`}`;
}

/** The family a sample name belongs to, given the declared types. */
function familyOf(sampleName: string, types: Map<string, MetricType>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sampleName.endsWith(suffix)) {
      const base = sampleName.slice(0, -suffix.length);
      const type = types.get(base);
      if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return sampleName;
}

/** Checks the whole exposition; throws ExpositionError naming the first bad line. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new ExpositionError(0, text.slice(-40), 'the exposition must end with a newline');
  const families = new Map<string, Family>();
  const types = new Map<string, MetricType>();
  const helps = new Set<string>();
  const closed = new Set<string>();
  const seriesSeen = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const fail = (why: string): never => {
      throw new ExpositionError(lineNo, line, why);
    };
    const family = (name: string): Family => {
      let f = families.get(name);
      if (!f) {
        f = { name, type: types.get(name) ?? 'untyped', help: undefined, samples: [] };
        families.set(name, f);
      }
      return f;
    };
    if (line === '') return;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!match) {
        if (/^# ?(HELP|TYPE)\b/.test(line)) fail('malformed HELP/TYPE line');
        return; // a plain comment
      }
      const [, kind, name, rest = ''] = match;
      if (!METRIC_NAME.test(name!)) fail('bad metric name');
      if (kind === 'HELP') {
        if (helps.has(name!)) fail('second HELP for the family');
        if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) fail('bad escape in HELP');
        helps.add(name!);
        const unescaped = rest.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
        if (escapeHelp(unescaped) !== rest) fail('HELP does not round-trip');
        family(name!).help = unescaped;
      } else {
        if (types.has(name!)) fail('second TYPE for the family');
        if (!TYPES.has(rest as MetricType)) fail(`unknown type ${rest}`);
        if (families.get(name!)?.samples.length) fail("TYPE after the family's samples");
        types.set(name!, rest as MetricType);
        family(name!).type = rest as MetricType;
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) fail('sample without a metric name');
    const sampleName = nameMatch![0];
    let rest = line.slice(sampleName.length);
    let labels: Array<[string, string]> = [];
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, fail));
    if (!rest.startsWith(' ')) fail('expected one space before the value');
    const fields = rest.slice(1).split(' ');
    if (fields.length > 2 || fields.some((f) => f === '')) fail('expected `value [timestamp]` separated by single spaces');
    const [valueText, timestamp] = fields as [string, string | undefined];
    const value = parseFloatStrict(valueText);
    if (value === undefined) fail(`bad value ${valueText}`);
    if (timestamp !== undefined && !TIMESTAMP.test(timestamp)) fail('bad timestamp');
    if (serializeSample(sampleName, labels, valueText, timestamp) !== line) fail('line does not round-trip');
    const labelObject: Record<string, string> = {};
    for (const [k, v] of labels) {
      if (k.startsWith('__')) fail(`reserved label name ${k}`);
      if (k in labelObject) fail(`duplicate label ${k}`);
      labelObject[k] = v;
    }
    const base = familyOf(sampleName, types);
    if (current !== base) {
      if (closed.has(base)) fail(`samples of ${base} are not contiguous`);
      if (current) closed.add(current);
      current = base;
    }
    const seriesKey = `${sampleName}{${Object.keys(labelObject)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labelObject[k])}`)
      .join(',')}}`;
    if (seriesSeen.has(seriesKey)) fail('duplicate series');
    seriesSeen.add(seriesKey);
    const f = family(base);
    if (f.type === 'counter' && !(value! >= 0)) fail('negative or NaN counter');
    if (f.type === 'histogram' && !sampleName.endsWith('_bucket') && !sampleName.endsWith('_sum') && !sampleName.endsWith('_count')) {
      fail('histogram sample is not _bucket, _sum or _count');
    }
    if (sampleName.endsWith('_bucket') && f.type === 'histogram' && labelObject.le === undefined) fail('bucket without le');
    f.samples.push({ name: sampleName, labels: labelObject, value: value! });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  for (const [key, samples] of groups) {
    const where = `histogram ${f.name} ${key}`;
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const sum = samples.find((s) => s.name === `${f.name}_sum`);
    if (!count || !sum) throw new Error(`${where}: _count or _sum missing`);
    let previousBound = Number.NEGATIVE_INFINITY;
    let previousCount = 0;
    for (const b of buckets) {
      const bound = parseFloatStrict(b.labels.le!);
      if (bound === undefined || Number.isNaN(bound)) throw new Error(`${where}: bad le ${b.labels.le}`);
      if (!(bound > previousBound)) throw new Error(`${where}: buckets not in ascending le order`);
      if (b.value < previousCount) throw new Error(`${where}: bucket counts are not cumulative`);
      previousBound = bound;
      previousCount = b.value;
    }
    if (previousBound !== Number.POSITIVE_INFINITY) throw new Error(`${where}: no +Inf bucket`);
    if (previousCount !== count.value) throw new Error(`${where}: +Inf bucket ${previousCount} != _count ${count.value}`);
  }
}

/** The value of one series (labels must match exactly); undefined when absent. */
export function sampleValue(families: Map<string, Family>, sampleName: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== sampleName) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
