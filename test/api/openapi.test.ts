/**
 * The OpenAPI document: the committed openapi/openapi.json is exactly what the routes generate
 * (regenerate with `npm run openapi`), it validates as OpenAPI 3.1, every operation, response
 * and field is described, every example is valid against its own schema, and /docs serves
 * Swagger UI and the same document.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { Validator } from '@seriousme/openapi-schema-validator';
import { generateOpenapi, OPENAPI_PATH } from '../../scripts/openapi.ts';
import { buildTestApp } from '../helpers/build.ts';

type Json = Record<string, any>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every `properties` entry without a description, as JSON paths. */
function undescribed(schema: unknown, path: string, out: string[]): string[] {
  if (!schema || typeof schema !== 'object') return out;
  if (Array.isArray(schema)) {
    schema.forEach((item, i) => undescribed(item, `${path}[${i}]`, out));
    return out;
  }
  const s = schema as Json;
  if (s.properties && typeof s.properties === 'object') {
    for (const [name, property] of Object.entries(s.properties as Json)) {
      if (!property.description && !property.$ref) out.push(`${path}.properties.${name}`);
    }
  }
  for (const [key, value] of Object.entries(s)) if (key !== 'examples' && key !== 'example') undescribed(value, `${path}.${key}`, out);
  return out;
}

/**
 * Keys whose value maps names to objects (a property or a path named `example` is not an
 * example keyword).
 */
const NAMED_MAPS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
  'schemas',
  'paths',
  'responses',
  'content',
  'headers',
  'securitySchemes',
  'requestBodies',
  'callbacks',
  'links',
  'encoding',
  'variables',
  'webhooks',
]);

/** One segment of a JSON Pointer inside a URI fragment (RFC 6901 escaping, then URI encoding). */
const segment = (key: string) => encodeURIComponent(key.replace(/~/g, '~0').replace(/\//g, '~1'));

interface ExampleCheck {
  /** The example's place in the document, for the report. */
  where: string;
  /** JSON Pointer (URI fragment form) of the schema the example must satisfy. */
  schema: string;
  value: unknown;
}

/**
 * Every example of the document with the schema it illustrates: JSON Schema `examples` arrays
 * (and the older `example`) on any schema, and `example` / `examples[name].value` of parameters,
 * media types and headers (checked against their sibling `schema`).
 */
function collectExamples(node: unknown, pointer: string, out: ExampleCheck[], isMap = false): ExampleCheck[] {
  if (!node || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    node.forEach((item, i) => collectExamples(item, `${pointer}/${i}`, out));
    return out;
  }
  const o = node as Json;
  if (!isMap) {
    const hasSchema = o.schema !== undefined && typeof o.schema === 'object';
    const target = hasSchema ? `${pointer}/schema` : pointer;
    if (Array.isArray(o.examples)) {
      o.examples.forEach((value: unknown, i: number) => out.push({ where: `${pointer}/examples/${i}`, schema: pointer, value }));
    } else if (o.examples && typeof o.examples === 'object' && hasSchema) {
      for (const [name, example] of Object.entries(o.examples as Json)) {
        if (example && typeof example === 'object' && 'value' in example) {
          out.push({ where: `${pointer}/examples/${segment(name)}`, schema: target, value: example.value });
        }
      }
    }
    if ('example' in o) out.push({ where: `${pointer}/example`, schema: target, value: o.example });
  }
  for (const [key, value] of Object.entries(o)) {
    // Example values are data, not schemas: nothing inside them is an example.
    if (!isMap && (key === 'example' || key === 'examples')) continue;
    collectExamples(value, `${pointer}/${segment(key)}`, out, !isMap && NAMED_MAPS.has(key) && !Array.isArray(value));
  }
  return out;
}

/** The examples of `doc` that fail their schema (refs such as #/components/schemas/... resolved). */
function invalidExamples(doc: Json): { checked: number; failures: string[] } {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, logger: false });
  const id = 'https://gatehouse.test/openapi.json';
  ajv.addSchema(doc, id);
  const compiled = new Map<string, ValidateFunction>();
  const checks = collectExamples(doc, '', []);
  const failures: string[] = [];
  for (const check of checks) {
    let validate = compiled.get(check.schema);
    if (!validate) compiled.set(check.schema, (validate = ajv.compile({ $ref: `${id}#${check.schema}` })));
    if (!validate(check.value)) {
      failures.push(`${decodeURIComponent(check.where)}: ${ajv.errorsText(validate.errors)} (example ${JSON.stringify(check.value)})`);
    }
  }
  return { checked: checks.length, failures };
}

t.test('openapi document', async (t) => {
  const generated = await generateOpenapi();
  let committed = '';
  try {
    committed = readFileSync(OPENAPI_PATH, 'utf8');
  } catch {
    // reported below
  }
  t.ok(committed, `${OPENAPI_PATH} exists (run npm run openapi)`);
  // Compare the text (formatting included): the file is generated, never edited by hand.
  t.ok(committed === generated, 'openapi/openapi.json is up to date with the routes; run `npm run openapi` and commit the result');
  if (committed !== generated) t.same(JSON.parse(committed || '{}'), JSON.parse(generated), 'differences');

  const doc = JSON.parse(generated) as Json;

  await t.test('validates as OpenAPI 3.1', async (t) => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    t.same(result.errors ?? [], [], 'no validation errors');
    t.equal(result.valid, true);
    t.equal(validator.version, '3.1');
  });

  await t.test('every example is valid against its schema', async (t) => {
    const { checked, failures } = invalidExamples(doc);
    t.same(failures, [], 'no invalid example');
    const kinds = collectExamples(doc, '', []);
    t.ok(checked >= 150, `${checked} examples checked`);
    t.ok(
      kinds.some((c) => c.where.endsWith('/example') && c.schema.endsWith('/schema')),
      'parameter examples included',
    );
    t.ok(
      kinds.some((c) => c.where.startsWith('/components/schemas/ErrorBody/examples/')),
      'component schema examples included',
    );
    t.ok(
      kinds.some((c) => /requestBody/.test(c.where)),
      'request body examples included',
    );
    t.ok(
      kinds.some((c) => /\/content\/application~1json\/example$/.test(c.where)),
      'media type examples included',
    );

    // The check itself: the page example without its required `status` (the bug this test was
    // written for), a wrong type deep inside, and a referenced component's example all fail.
    const broken = JSON.parse(generated) as Json;
    // @fastify/swagger moves an object schema's examples to its media type (`example`).
    delete broken.paths['/api/online/players'].get.responses['200'].content['application/json'].example.players[0].status;
    broken.paths['/ws/stats'].get.parameters[0].example = 'galaxy';
    broken.components.schemas.ErrorBody.examples[0].statusCode = 200;
    const found = invalidExamples(broken).failures;
    t.equal(found.length, 3, 'three invalid examples found');
    t.ok(
      found.some((f) => /^\/paths\/~1api~1online~1players\/get\/responses\/200\/content\/application~1json\/example: .*status/.test(f)),
      'the page example without status',
    );
    t.ok(
      found.some((f) => f.startsWith('/paths/~1ws~1stats/get/parameters/0/example')),
      'the parameter example',
    );
    t.ok(
      found.some((f) => f.startsWith('/components/schemas/ErrorBody/examples/0')),
      'the component example',
    );
  });

  await t.test('deterministic: nothing from the generating process', async (t) => {
    // The drift check above compares documents generated by different processes at different
    // times; this names the usual culprits for a clearer failure.
    t.notMatch(generated, /"servers"|"openapi"\s*:\s*"3\.0|openapi-generator|127\.0\.0\.1/, 'no servers, node id or host');
  });

  await t.test('content', async (t) => {
    t.match(doc.info, { title: 'Gatehouse', version: String });
    t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' });
    t.ok(doc.components.schemas.ErrorBody, 'shared error body');
    for (const [path, method] of [
      ['/api/online/players', 'get'],
      ['/api/online/players/{userId}', 'get'],
      ['/api/online/logout', 'post'],
      ['/ws/stats', 'get'],
      ['/health/live', 'get'],
      ['/health/ready', 'get'],
      ['/health', 'get'],
      ['/ws', 'get'],
    ]) {
      t.ok(doc.paths[path!]?.[method!], `${method!.toUpperCase()} ${path} documented`);
    }
    for (const path of ['/api/online/players', '/api/online/players/{userId}', '/ws/stats']) {
      const op = doc.paths[path].get;
      t.same(op.security, [{ bearerAuth: [] }], `${path}: bearer`);
      for (const status of ['401', '403']) {
        t.equal(op.responses[status]?.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorBody', `${path} ${status}: error body`);
      }
    }
    t.ok(doc.paths['/ws'].get.responses['101'], '/ws: 101 upgrade');
    t.same(
      doc.paths['/api/online/players'].get.parameters.map((p: Json) => p.name),
      ['limit', 'cursor', 'nodeId', 'prefix'],
    );
  });

  await t.test('every operation, response and field is described', async (t) => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const method of HTTP_METHODS) {
        const op = (item as Json)[method];
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        if (!op.summary) missing.push(`${where}: summary`);
        for (const p of op.parameters ?? []) if (!p.description) missing.push(`${where}: parameter ${p.name}`);
        for (const [status, response] of Object.entries(op.responses as Json)) {
          if (!response.description || response.description === 'Default Response') missing.push(`${where}: response ${status}`);
        }
        undescribed(op.requestBody, `${where} requestBody`, missing);
        undescribed(op.responses, `${where} responses`, missing);
      }
    }
    undescribed(doc.components.schemas, 'components.schemas', missing);
    t.same(missing, [], 'nothing undescribed');
  });
});

t.test('/docs serves Swagger UI and the document', async (t) => {
  const h = await buildTestApp(t, 'embedded');
  if (!h) return;
  const html = await fetch(`${h.baseUrl}/docs`);
  t.equal(html.status, 200);
  t.match(html.headers.get('content-type'), /text\/html/);
  t.match(await html.text(), /swagger-ui/i);
  const initializer = await fetch(`${h.baseUrl}/docs/static/swagger-initializer.js`);
  t.equal(initializer.status, 200, 'Swagger UI assets');
  const json = await fetch(`${h.baseUrl}/docs/json`);
  t.equal(json.status, 200);
  t.match(json.headers.get('content-type'), /application\/json/);
  t.same(await json.json(), JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')), 'the committed document');
});
