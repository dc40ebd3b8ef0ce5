/**
 * The Grafana dashboard and the Prometheus alert rules name metrics the gateway really exports:
 * every metric in their PromQL is looked up in a running gateway's /metrics (by its `# TYPE`
 * line, present even before a labelled series has a sample). A renamed metric fails here.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { buildTestApp, TEST_ADMIN_TOKEN } from '../helpers/build.ts';

const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/gatehouse-dashboard.json', import.meta.url), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};
const rules = parse(readFileSync(new URL('../../deploy/prometheus/gatehouse-alerts.yaml', import.meta.url), 'utf8')) as {
  groups: Array<{ rules: Array<{ alert: string; expr: string; labels?: { severity?: string }; annotations?: { summary?: string } }> }>;
};

/** Series made by Prometheus itself, not by the target. */
const PROMETHEUS_SERIES = new Set(['up']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'le']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or label values. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, '') // selectors: label matchers and their values
    .replace(/"[^"]*"/g, '')
    .replace(/\[[^\]]*\]/g, '') // range durations
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ''); // grouping labels
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((name) => !PROMQL_WORDS.has(name) && !/^\d/.test(name));
}

/** The exported family a sample name belongs to (histograms export _bucket/_sum/_count). */
const family = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

t.test('every metric of the dashboard and the alerts is exported', async (t) => {
  const h = (await buildTestApp(t, 'embedded'))!;
  const response = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  t.equal(response.status, 200);
  const exported = new Set([...(await response.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  t.ok(exported.size > 40, `${exported.size} metric families`);

  const used = new Map<string, string>();
  for (const panel of dashboard.panels)
    for (const target of panel.targets) for (const name of metricNames(target.expr)) used.set(name, `dashboard panel "${panel.title}"`);
  for (const group of rules.groups) for (const rule of group.rules) for (const name of metricNames(rule.expr)) used.set(name, `alert ${rule.alert}`);
  t.ok(used.size >= 15, `${used.size} metrics referenced`);
  for (const [name, where] of used) {
    if (PROMETHEUS_SERIES.has(name)) continue;
    t.ok(exported.has(family(name)) || exported.has(name), `${name} (${where})`);
  }
});

t.test('alert rules are complete', async (t) => {
  const alerts = rules.groups.flatMap((g) => g.rules);
  for (const wanted of [
    'GatehouseGhostPlayers',
    'GatehouseLogoutsPiling',
    'GatehouseLeaseLapses',
    'GatehouseMessagesDropped',
    'GatehouseEventLoopLag',
    'GatehouseNodeNotReady',
  ]) {
    t.ok(
      alerts.some((a) => a.alert === wanted),
      wanted,
    );
  }
  for (const alert of alerts) {
    t.ok(['critical', 'warning'].includes(alert.labels?.severity ?? ''), `${alert.alert}: severity`);
    t.ok(alert.annotations?.summary, `${alert.alert}: summary`);
  }
});

t.test('the metric-name extraction sees names and ignores the rest', async (t) => {
  t.same(metricNames('histogram_quantile(0.99, sum by (le, instance) (rate(gatehouse_x_seconds_bucket{job="gatehouse"}[5m]))) > 0.5 * max(up{a="b"})'), [
    'gatehouse_x_seconds_bucket',
    'up',
  ]);
});
