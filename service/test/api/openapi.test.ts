/**
 * The OpenAPI document: valid OpenAPI 3.1 by a maintained validator (@seriousme/openapi-schema-validator,
 * run as its CLI because the package is ESM-only), generated from the loaded model, committed fresh, and
 * true: real responses of the running service match the documented status, schema and headers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import { openApiDocument, serializeOpenApi, type Json } from '../../src/api/openapi';
import { DEFAULT_MODEL_DIR, SERVICE_DIR, loadConfig } from '../../src/config';
import { readModelFiles, type ModelFiles } from '../../src/model/format';
import { ServiceState } from '../../src/state';
import {
  noisyJpeg,
  pngHeaderOnly,
  startTestService,
  tempDir,
  writeTinyCnn,
  type TestService,
} from '../helpers';

const VALIDATOR_CLI = require.resolve('@seriousme/openapi-schema-validator/bin/validate-api-cli.js');

/** The validator's verdict on the document in `file`. */
function validateOpenApi(file: string): { valid: boolean; errors?: unknown } {
  // The CLI prints its verdict as JSON and exits non-zero when the document is invalid.
  const run = spawnSync(process.execPath, [VALIDATOR_CLI, file], { encoding: 'utf8' });
  return JSON.parse(run.stdout) as { valid: boolean; errors?: unknown };
}

let tmp: ReturnType<typeof tempDir>;
let files: ModelFiles;
let svc: TestService;
let doc: Json;

beforeAll(async () => {
  tmp = tempDir();
  writeTinyCnn(tmp.dir, { labels: ['cat', 'dog'] });
  files = await readModelFiles(tmp.dir);
  svc = await startTestService(files, { limits: { maxBodyBytes: 64 * 1024, maxImagesPerRequest: 2 } });
  doc = (await request(svc.server).get('/openapi.json')).body as Json;
});
afterAll(async () => {
  await svc.close();
  tmp.cleanup();
});

describe('the document', () => {
  test('GET /openapi.json is valid OpenAPI 3.1', () => {
    const file = join(tmp.dir, 'served.json');
    writeFileSync(file, JSON.stringify(doc));
    expect(doc.openapi).toBe('3.1.0');
    expect(validateOpenApi(file)).toEqual({ valid: true });
  });

  test('the validator is not a rubber stamp: a broken document fails', () => {
    const file = join(tmp.dir, 'broken.json');
    const broken = structuredClone(doc) as {
      paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
    };
    delete broken.paths['/predict']?.post?.responses['200']?.description; // required in a Response Object
    writeFileSync(file, JSON.stringify(broken));
    expect(validateOpenApi(file).valid).toBe(false);
  });

  test('the committed service/openapi.json is valid and what the default model generates (npm run openapi)', async () => {
    const committed = resolve(SERVICE_DIR, 'openapi.json');
    expect(validateOpenApi(committed)).toEqual({ valid: true });
    const config = loadConfig({});
    const defaults = await readModelFiles(DEFAULT_MODEL_DIR);
    const fresh = serializeOpenApi(
      openApiDocument({ name: config.modelName, version: config.modelVersion, metadata: defaults.metadata }),
    );
    expect(readFileSync(committed, 'utf8')).toBe(fresh);
  });

  test('every documented path answers a method it does not document with 405 and an Allow header naming the documented ones', async () => {
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    const answers: Record<string, [number, string | undefined]> = {};
    const expected: Record<string, [number, string]> = {};
    for (const [template, ops] of Object.entries(paths)) {
      const path = template.replace('{name}', 'tiny').replace('{version}', '7');
      const methods = Object.keys(ops)
        .filter((key) => key !== 'parameters')
        .map((m) => m.toUpperCase());
      const allow = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
      for (const method of ['get', 'post', 'put', 'delete', 'options'] as const) {
        if (methods.includes(method.toUpperCase())) continue;
        const res = await request(svc.server)[method](path);
        answers[`${method} ${template}`] = [res.status, res.headers.allow];
        expected[`${method} ${template}`] = [405, allow];
      }
    }
    expect(answers).toEqual(expected);
    expect((doc.info as { description: string }).description).toContain('405 `method_not_allowed`');
  });

  test('while the model loads, GET /openapi.json is 503 not_ready + Retry-After (the document needs the model)', async () => {
    const app = createApp({
      state: new ServiceState({ name: 'tiny', version: '7' }),
      limits: { maxBodyBytes: 1024, maxImagesPerRequest: 1, requestTimeoutMs: 1000 },
      logger: pino({ level: 'silent' }),
    });
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error.code).toBe('not_ready');
  });

  test('repeated labels are one enum value each; the class index tells them apart', () => {
    const repeated = openApiDocument({
      name: 'm',
      version: '1',
      metadata: { ...files.metadata, labels: ['cat', 'dog', 'cat'] },
    }) as { components: { schemas: Record<string, { properties: Record<string, Json> }> } };
    const prediction = (
      repeated.components.schemas.PredictResponse?.properties.predictions as { items: { properties: Json } }
    ).items.properties;
    expect(prediction.label).toEqual({ type: 'string', enum: ['cat', 'dog'] });
    expect(prediction.index).toMatchObject({ type: 'integer', minimum: 0, maximum: 2 });
  });

  test('the model-specific parts come from the loaded model: labels, input size, name and version', () => {
    const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
    const label = (schemas.ModelResponse as { properties: { labels: { items: Json } } }).properties.labels
      .items;
    expect(label).toEqual({ type: 'string', enum: ['cat', 'dog'] });
    const paths = doc.paths as Record<string, Record<string, { description?: string }>>;
    expect(paths['/v2/models/{name}/infer']?.post?.description).toContain('`[N, 3, 32, 32]`');
    expect((doc.info as { description: string }).description).toContain(
      'Serves model `tiny` version `7`: 32x32',
    );
    const other = openApiDocument({
      name: 'm',
      version: '1',
      metadata: { ...files.metadata, labels: ['a', 'b'] },
    });
    expect(JSON.stringify(other)).not.toContain('"cat"');
  });
});

describe('real responses match the documented responses', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('binary', true);
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  const exercised = new Set<string>();
  let componentsAdded = false;

  /** Checks `res` against the document's response for `method path-template` and its status. */
  function expectDocumented(method: string, template: string, res: request.Response): void {
    if (!componentsAdded) {
      const components = (doc.components as { schemas: Json }).schemas;
      ajv.addSchema({
        $id: 'components',
        $defs: JSON.parse(rewriteRefs(JSON.stringify(components))) as Json,
      });
      componentsAdded = true;
    }
    const op = (doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>)[template]?.[
      method
    ];
    expect(op).toBeDefined();
    const documented = op?.responses[String(res.status)] as
      { headers?: Record<string, { $ref: string }>; content: Record<string, { schema: Json }> } | undefined;
    if (!documented)
      throw new Error(
        `${method} ${template}: status ${res.status} is not documented (${res.text.slice(0, 200)})`,
      );
    exercised.add(`${method} ${template} ${res.status}`);
    const type = (res.headers['content-type'] ?? '').split(';')[0] as string;
    const media = documented.content[type];
    if (!media)
      throw new Error(`${method} ${template} ${res.status}: content type ${type} is not documented`);
    for (const header of Object.keys(documented.headers ?? {})) {
      const spec = (doc.components as { headers: Record<string, { required?: boolean }> }).headers[header];
      if (spec?.required)
        expect([header, res.headers[header.toLowerCase()]]).toEqual([header, expect.any(String)]);
    }
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
    expect(res.headers['x-model-version']).toBe('7');
    if (type === 'application/json') {
      const validate = ajv.compile(JSON.parse(rewriteRefs(JSON.stringify(media.schema))) as Json);
      const ok = validate(res.body);
      expect({ where: `${method} ${template} ${res.status}`, errors: validate.errors ?? null }).toEqual({
        where: `${method} ${template} ${res.status}`,
        errors: null,
      });
      expect(ok).toBe(true);
    }
  }

  test('every operation, its success response and the error responses we can cause', async () => {
    const s = svc.server;
    const jpeg = await noisyJpeg(64, 48);
    const b64 = jpeg.toString('base64');
    const get = (path: string) => request(s).get(path);
    const post = (path: string, type: string, body: string | Buffer) =>
      request(s).post(path).set('Content-Type', type).send(body);

    expectDocumented('get', '/health', await get('/health'));
    expectDocumented('get', '/ready', await get('/ready'));
    expectDocumented('get', '/model', await get('/model'));
    expectDocumented('get', '/metrics', await get('/metrics'));
    expectDocumented('get', '/openapi.json', await get('/openapi.json'));
    expectDocumented('get', '/docs', await get('/docs'));

    const predicted = await post('/predict', 'image/jpeg', jpeg);
    expectDocumented('post', '/predict', predicted);
    expectDocumented('post', '/predict', await request(s).post('/predict').attach('file', jpeg, 'a.jpg'));
    expectDocumented(
      'post',
      '/predict',
      await post('/predict', 'application/json', JSON.stringify({ instances: [{ b64 }, { b64 }] })),
    );
    expectDocumented('post', '/predict', await post('/predict', 'image/jpeg', Buffer.alloc(0)));
    expectDocumented('post', '/predict', await post('/predict', 'image/png', Buffer.from('not an image')));
    expectDocumented('post', '/predict', await post('/predict?top_k=x', 'image/jpeg', jpeg));
    expectDocumented(
      'post',
      '/predict',
      await post('/predict', 'application/json', '{"instances":[{"b64":"%%%%"}]}'),
    );
    expectDocumented(
      'post',
      '/predict',
      await post('/predict', 'application/json', JSON.stringify({ instances: [{ b64 }, { b64 }, { b64 }] })),
    );
    expectDocumented('post', '/predict', await post('/predict', 'image/jpeg', Buffer.alloc(65 * 1024, 1)));
    expectDocumented('post', '/predict', await post('/predict', 'text/plain', 'hello'));
    expectDocumented('post', '/predict', await post('/predict', 'image/png', pngHeaderOnly(10_000, 10_000)));

    const id = predicted.body.predictions[0].id as string;
    const label = predicted.body.predictions[0].label as string;
    const other = label === 'cat' ? 'dog' : 'cat';
    expectDocumented(
      'post',
      '/feedback',
      await post('/feedback', 'application/json', JSON.stringify({ requestId: id, label })),
    );
    expectDocumented(
      'post',
      '/feedback',
      await post('/feedback', 'application/json', JSON.stringify({ requestId: id, label: 'cow' })),
    );
    expectDocumented(
      'post',
      '/feedback',
      await post('/feedback', 'application/json', JSON.stringify({ requestId: 'nope', label })),
    );
    expectDocumented(
      'post',
      '/feedback',
      await post(
        '/feedback',
        'application/json',
        JSON.stringify({ requestId: id, label, predictedLabel: other }),
      ),
    );
    expectDocumented('post', '/feedback', await post('/feedback', 'text/plain', 'x'));

    expectDocumented('get', '/v2', await get('/v2'));
    expectDocumented('get', '/v2/health/live', await get('/v2/health/live'));
    expectDocumented('get', '/v2/health/ready', await get('/v2/health/ready'));
    for (const [base, versioned] of [
      ['/v2/models/tiny', '/v2/models/{name}'],
      ['/v2/models/tiny/versions/7', '/v2/models/{name}/versions/{version}'],
    ] as const) {
      expectDocumented('get', versioned, await get(base));
      expectDocumented('get', `${versioned}/ready`, await get(`${base}/ready`));
      const infer = (body: unknown) => post(`${base}/infer`, 'application/json', JSON.stringify(body));
      const input = { name: 'input', shape: [1], datatype: 'BYTES', data: [b64] };
      expectDocumented('post', `${versioned}/infer`, await infer({ id: 'a', inputs: [input] }));
      expectDocumented(
        'post',
        `${versioned}/infer`,
        await infer({
          inputs: [input],
          outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
        }),
      );
      expectDocumented('post', `${versioned}/infer`, await infer({ inputs: [] }));
      expectDocumented('post', `${versioned}/infer`, await post(`${base}/infer`, 'text/plain', 'x'));
      expectDocumented(
        'post',
        `${versioned}/infer`,
        await infer({ inputs: [{ ...input, shape: [3], data: [b64, b64, b64] }] }),
      );
      expectDocumented(
        'post',
        `${versioned}/infer`,
        await infer({ inputs: [{ ...input, data: [pngHeaderOnly(10_000, 10_000).toString('base64')] }] }),
      );
    }
    expectDocumented('get', '/v2/models/{name}', await get('/v2/models/other'));
    expectDocumented('get', '/v2/models/{name}', await get('/v2/models/%E0%A4%A')); // not UTF-8
    expectDocumented(
      'get',
      '/v2/models/{name}/versions/{version}/ready',
      await get('/v2/models/tiny/versions/1/ready'),
    );
    expectDocumented(
      'post',
      '/v2/models/{name}/infer',
      await post('/v2/models/other/infer', 'application/json', '{}'),
    );

    // Every documented operation was called and its success response seen.
    const operations = Object.entries(
      doc.paths as Record<string, Record<string, { responses: Record<string, Json> }>>,
    ).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((key) => ['get', 'post'].includes(key))
        .map((method) => `${method} ${path} 200`),
    );
    expect(operations.filter((op) => !exercised.has(op))).toEqual([]);
    // And the error statuses the requests above were built to cause.
    const errors = [
      ...[400, 413, 415, 422].map((status) => `post /predict ${status}`),
      ...[400, 404, 409, 415].map((status) => `post /feedback ${status}`),
      ...[400, 413, 415, 422].map((status) => `post /v2/models/{name}/infer ${status}`),
      'post /v2/models/{name}/infer 404',
      'get /v2/models/{name} 404',
      'get /v2/models/{name}/versions/{version}/ready 404',
    ];
    expect(errors.filter((e) => !exercised.has(e))).toEqual([]);
  });

  test('while draining, the readiness answers are the documented 503s (the last test: draining is for good)', async () => {
    svc.state.startDraining();
    const ready = await request(svc.server).get('/ready');
    expect(ready.status).toBe(503);
    expectDocumented('get', '/ready', ready);
    expectDocumented('get', '/v2/health/ready', await request(svc.server).get('/v2/health/ready'));
    expectDocumented(
      'get',
      '/v2/models/{name}/ready',
      await request(svc.server).get('/v2/models/tiny/ready'),
    );
    expect(exercised.has('get /v2/models/{name}/ready 503')).toBe(true);
  });
});

function rewriteRefs(text: string): string {
  return text.replaceAll('#/components/schemas/', 'components#/$defs/');
}
