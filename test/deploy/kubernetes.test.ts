/**
 * deploy/kubernetes: every manifest is valid against the Kubernetes API schemas
 * (kubernetes-models' validators), and says what the gateway needs: probes on /health/live and
 * /health/ready, a preStop pause and a grace period that cover the drain, no session affinity,
 * a disruption budget, and secrets that carry the variables the gateway reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { EnvSchema } from '../../src/config.ts';

const dir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
  [key: string]: unknown;
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const manifests: Array<{ file: string; manifest: Manifest }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(`${dir}${file}`, 'utf8')).map((doc) => ({ file, manifest: doc.toJSON() as Manifest })),
);
const byKind = (kind: string) => manifests.find((m) => m.manifest.kind === kind)?.manifest;

/** The kubernetes-models class of an apiVersion + kind, e.g. apps/v1 Deployment. */
async function model(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const path = apiVersion.includes('/') ? apiVersion : `v1`;
  const module = (await import(`kubernetes-models/${path}/${kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = module[kind];
  if (!Model) throw new Error(`no model for ${apiVersion} ${kind}`);
  return Model;
}

t.test('every manifest validates against the Kubernetes schema', async (t) => {
  t.ok(manifests.length >= 5, `${manifests.length} manifests`);
  for (const { file, manifest } of manifests) {
    const Model = await model(manifest.apiVersion, manifest.kind);
    t.doesNotThrow(() => new Model(manifest).validate(), `${file}: ${manifest.apiVersion} ${manifest.kind}`);
  }
  const kustomization = readFileSync(`${dir}kustomization.yaml`, 'utf8');
  for (const file of files.filter((f) => f !== 'secret.example.yaml')) t.match(kustomization, `- ${file}`, `${file} is in the kustomization`);
});

t.test('the validator refuses a broken manifest', async (t) => {
  const Deployment = await model('apps/v1', 'Deployment');
  const broken = structuredClone(byKind('Deployment')!) as unknown as {
    spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } };
  };
  broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'three thousand';
  t.throws(() => new Deployment(broken).validate());
});

t.test('what the gateway needs from its Deployment, Service and budget', async (t) => {
  const deployment = byKind('Deployment') as unknown as {
    spec: {
      template: {
        spec: {
          terminationGracePeriodSeconds: number;
          containers: Array<{
            readinessProbe: { httpGet: { path: string } };
            livenessProbe: { httpGet: { path: string } };
            lifecycle: { preStop: { exec: { command: string[] } } };
            env: Array<{ name: string; value?: string }>;
            envFrom: Array<{ secretRef: { name: string } }>;
          }>;
        };
      };
    };
  };
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  t.equal(container.livenessProbe.httpGet.path, '/health/live');
  t.equal(container.readinessProbe.httpGet.path, '/health/ready');
  const preStopS = Number(container.lifecycle.preStop.exec.command.at(-1));
  const shutdownMs = Number(
    container.env.find((e) => e.name === 'SHUTDOWN_TIMEOUT_MS')?.value ?? (EnvSchema.properties.SHUTDOWN_TIMEOUT_MS as { default: number }).default,
  );
  t.ok(preStopS > 0, 'a preStop pause');
  t.ok(
    pod.terminationGracePeriodSeconds * 1000 > preStopS * 1000 + shutdownMs,
    `grace ${pod.terminationGracePeriodSeconds} s covers preStop ${preStopS} s + shutdown ${shutdownMs} ms`,
  );
  for (const { name } of container.env) t.ok(name in EnvSchema.properties, `env ${name} is a gateway setting`);

  const service = byKind('Service') as unknown as { spec: { sessionAffinity?: string } };
  t.not(service.spec.sessionAffinity, 'ClientIP', 'no sticky sessions');
  t.ok(byKind('PodDisruptionBudget'), 'a disruption budget');
  t.ok(byKind('HorizontalPodAutoscaler'), 'an autoscaler example');

  const secret = byKind('Secret')!;
  t.equal(container.envFrom[0]!.secretRef.name, secret.metadata.name, 'the Deployment reads the example Secret');
  for (const key of Object.keys(secret.stringData ?? {})) t.ok(key in EnvSchema.properties, `secret ${key} is a gateway setting`);
  for (const needed of ['DATABASE_URL', 'REDIS_URL', 'ADMIN_TOKEN']) t.ok(needed in (secret.stringData ?? {}), `secret carries ${needed}`);
});
