/**
 * Open Inference Protocol v2 (REST) conformance, as an independent client would see it: the requests are
 * written out from the specification's examples (kserve/open-inference-protocol,
 * `specification/protocol/inference_rest.md`; the section is named in each test) and the answers are
 * checked field by field, against a real app with a real worker pool.
 */
import { request as httpRequest } from 'node:http';
import request from 'supertest';
import { DEFAULT_MAX_IMAGE_PIXELS } from '../../src/config';
import { preprocessImage } from '../../src/preprocess';
import { readModelFiles, type ModelFiles } from '../../src/model/format';
import { ServiceState } from '../../src/state';
import { createApp } from '../../src/app';
import pino from 'pino';
import {
  noisyJpeg,
  pngHeaderOnly,
  seededRandom,
  startTestService,
  tempDir,
  waitFor,
  writeTinyCnn,
  type TestService,
} from '../helpers';

let tmp: ReturnType<typeof tempDir>;
let files: ModelFiles;
let svc: TestService;
let jpeg: Buffer;
let jpeg2: Buffer;

beforeAll(async () => {
  tmp = tempDir();
  writeTinyCnn(tmp.dir);
  files = await readModelFiles(tmp.dir);
  svc = await startTestService(files);
  jpeg = await noisyJpeg(64, 48, 1);
  jpeg2 = await noisyJpeg(40, 30, 5);
});
afterAll(async () => {
  await svc.close();
  tmp.cleanup();
});

const infer = (body: unknown, path = '/v2/models/tiny/infer') =>
  request(svc.server).post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));

/** Probabilities /predict reports for `image`, by class index. */
async function predictScores(image: Buffer): Promise<number[]> {
  const res = await request(svc.server).post('/predict').set('Content-Type', 'image/jpeg').send(image);
  expect(res.status).toBe(200);
  const scores: number[] = [];
  for (const c of res.body.predictions[0].topK as { index: number; score: number }[])
    scores[c.index] = c.score;
  return scores;
}

/** The image's preprocessed tensor as JSON numbers (exact: float32 values are doubles). */
async function tensorOf(image: Buffer): Promise<number[]> {
  return Array.from(await preprocessImage(image, files.metadata, { maxPixels: DEFAULT_MAX_IMAGE_PIXELS }));
}

/** Nests a flat row-major array into `shape`. */
function nest(flat: readonly number[], shape: readonly number[]): unknown[] {
  if (shape.length === 1) return [...flat];
  const [, ...rest] = shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] as number }, (_, i) =>
    nest(flat.slice(i * size, (i + 1) * size), rest),
  );
}

describe('health and metadata', () => {
  test('Server Live: GET v2/health/live answers {"live": true}', async () => {
    const res = await request(svc.server).get('/v2/health/live');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ live: true });
  });

  test('Server Ready: GET v2/health/ready answers {"ready": true} once the model is loaded', async () => {
    const res = await request(svc.server).get('/v2/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ready: true });
  });

  test('Server Metadata: GET v2 names the server, its version and extensions', async () => {
    const res = await request(svc.server).get('/v2');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ name: 'model-gitops', version: '0.1.0', extensions: ['classification'] });
  });

  test.each(['/v2/models/tiny', '/v2/models/tiny/versions/7'])(
    'Model Metadata: GET %s describes the input and output tensors',
    async (path) => {
      const res = await request(svc.server).get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        name: 'tiny',
        versions: ['7'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 32, 32] }],
        outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
      });
    },
  );

  test.each(['/v2/models/tiny/ready', '/v2/models/tiny/versions/7/ready'])(
    'Model Ready: GET %s answers {"name", "ready": true}',
    async (path) => {
      const res = await request(svc.server).get(path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'tiny', ready: true });
    },
  );

  test.each([
    ['/v2/models/nope', "unknown model 'nope': this server serves 'tiny'"],
    ['/v2/models/nope/ready', "unknown model 'nope'"],
    ['/v2/models/tiny/versions/3', "model 'tiny' has no version '3' here: the served version is '7'"],
    ['/v2/models/tiny/versions/3/ready', "the served version is '7'"],
  ])(
    'fails when the model or version is unknown: GET %s is 404 with the error object',
    async (path, text) => {
      const res = await request(svc.server).get(path);
      expect(res.status).toBe(404);
      expect(Object.keys(res.body)).toEqual(['error']);
      expect(res.body.error).toContain(text);
    },
  );

  test.each([
    ['get', '/v2/models/%E0%A4%A'],
    ['get', '/v2/models/%E0%A4%A/ready'],
    ['get', '/v2/models/tiny/versions/%ff'],
    ['post', '/v2/models/%E0%A4%A/infer'],
  ] as const)(
    'fails when a path parameter is not valid percent-encoded UTF-8: %s %s is 404 with the protocol error object',
    async (method, path) => {
      const res = await request(svc.server)[method](path).set('Content-Type', 'application/json').send('{}');
      expect([res.status, res.body]).toEqual([
        404,
        { error: `no such path: '${path}' is not valid percent-encoded UTF-8` },
      ]);
    },
  );

  test.each([
    ['get', '/v2/models/tiny/infer', 'POST', 'use POST'],
    ['get', '/v2/models/other/versions/3/infer', 'POST', 'use POST'],
    ['post', '/v2/models/tiny', 'GET, HEAD', 'use GET or HEAD'],
    ['delete', '/v2/models/tiny/versions/7/ready', 'GET, HEAD', 'use GET or HEAD'],
    ['options', '/v2/health/live', 'GET, HEAD', 'use GET or HEAD'],
    ['put', '/v2', 'GET, HEAD', 'use GET or HEAD'],
  ] as const)(
    'fails when the path does not serve the method: %s %s is 405 with Allow: %s and the protocol error object',
    async (method, path, allow, use) => {
      const res = await request(svc.server)[method](path);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toEqual({
        error: `method ${method.toUpperCase()} is not allowed on '${path}': ${use}`,
      });
    },
  );

  test('fails when the path is no v2 endpoint: 404 with the protocol error object', async () => {
    const res = await request(svc.server).get('/v2/repository/index');
    expect(res.status).toBe(404);
    expect(typeof res.body.error).toBe('string');
  });

  describe('while the model loads', () => {
    const loading = () =>
      createApp({
        state: new ServiceState({ name: 'tiny', version: '7' }),
        limits: { maxBodyBytes: 1024, maxImagesPerRequest: 1, requestTimeoutMs: 1000 },
        logger: pino({ level: 'silent' }),
      });

    test('server readiness is false (503) and model metadata answers 503 + Retry-After', async () => {
      const app = loading();
      expect((await request(app).get('/v2/health/live')).body).toEqual({ live: true });
      const ready = await request(app).get('/v2/health/ready');
      expect([ready.status, ready.body]).toEqual([503, { ready: false }]);
      const meta = await request(app).get('/v2/models/tiny');
      expect(meta.status).toBe(503);
      expect(meta.headers['retry-after']).toBe('1');
      expect(meta.body).toEqual({ error: 'the model is still loading: retry shortly' });
    });

    test.each(['/v2/models/tiny/ready', '/v2/models/tiny/versions/7/ready'])(
      'Model Ready: GET %s answers 503 {"name", "ready": false}, as while draining',
      async (path) => {
        const res = await request(loading()).get(path);
        expect([res.status, res.body]).toEqual([503, { name: 'tiny', ready: false }]);
      },
    );

    test.each([
      ['get', '/v2/models/nope', "unknown model 'nope': this server serves 'tiny'"],
      ['get', '/v2/models/nope/ready', "unknown model 'nope'"],
      ['post', '/v2/models/nope/infer', "unknown model 'nope'"],
      ['get', '/v2/models/tiny/versions/3', "the served version is '7'"],
      ['get', '/v2/models/tiny/versions/3/ready', "the served version is '7'"],
      ['post', '/v2/models/tiny/versions/3/infer', "the served version is '7'"],
    ] as const)(
      'fails when the model or version is unknown: %s %s is 404, as once loaded',
      async (method, path, text) => {
        const res = await request(loading())[method](path).set('Content-Type', 'application/json').send('{}');
        expect(res.status).toBe(404);
        expect(Object.keys(res.body)).toEqual(['error']);
        expect(res.body.error).toContain(text);
      },
    );
  });
});

describe('inference', () => {
  test('Inference Request Examples: the example request itself gets the Inference Response JSON Error Object', async () => {
    // Written out from the section "Inference Request Examples": a model with two inputs and one output.
    const example = {
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
      ],
      outputs: [{ name: 'output0' }],
    };
    const res = await infer(example);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "the model has one input, 'input'; the request has 2" });
  });

  test('Inference Request Examples, for this model: FP32 input, one requested output, id echoed', async () => {
    const tensor = await tensorOf(jpeg);
    // The example's structure with this model's tensor names, shape and datatype.
    const res = await infer({
      id: '42',
      inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: tensor }],
      outputs: [{ name: 'probabilities' }],
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-model-version']).toBe('7');
    expect(Object.keys(res.body).sort()).toEqual(['id', 'model_name', 'model_version', 'outputs']);
    expect(res.body.model_name).toBe('tiny');
    expect(res.body.model_version).toBe('7');
    expect(res.body.id).toBe('42');
    expect(res.body.outputs).toHaveLength(1);
    const [out] = res.body.outputs;
    expect(out.name).toBe('probabilities');
    expect(out.datatype).toBe('FP32');
    expect(out.shape).toEqual([1, 2]);
    expect(out.data).toEqual(await predictScores(jpeg)); // identical to what /predict reports
  });

  test('Request Input: nested data in row-major order means the same as flat data', async () => {
    const tensor = await tensorOf(jpeg);
    const nested = await infer({
      inputs: [
        { name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: nest(tensor, [1, 3, 32, 32]) },
      ],
    });
    expect(nested.status).toBe(200);
    expect(nested.body.id).toBeUndefined(); // no id asked, none returned
    expect(nested.body.outputs[0].data).toEqual(await predictScores(jpeg));
  });

  test('a batch of two FP32 images gives [2, classes] in request order, each equal to /predict', async () => {
    const [a, b] = await Promise.all([tensorOf(jpeg), tensorOf(jpeg2)]);
    const res = await infer({
      inputs: [{ name: 'input', shape: [2, 3, 32, 32], datatype: 'FP32', data: [...a, ...b] }],
    });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].shape).toEqual([2, 2]);
    expect(res.body.outputs[0].data).toEqual([
      ...(await predictScores(jpeg)),
      ...(await predictScores(jpeg2)),
    ]);
  });

  test('BYTES input of base64 image files, shape [N], is preprocessed like /predict', async () => {
    const res = await infer({
      id: 'img-1',
      inputs: [
        {
          name: 'input',
          shape: [2],
          datatype: 'BYTES',
          data: [jpeg.toString('base64'), jpeg2.toString('base64')],
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe('img-1');
    expect(res.body.outputs).toEqual([
      {
        name: 'probabilities',
        datatype: 'FP32',
        shape: [2, 2],
        data: [...(await predictScores(jpeg)), ...(await predictScores(jpeg2))],
      },
    ]);
  });

  test('optional request fields sent as null (as clients serialise unset fields) mean absent', async () => {
    const res = await infer({
      id: 'n',
      parameters: null,
      inputs: [
        { name: 'input', shape: [1], datatype: 'BYTES', parameters: null, data: [jpeg.toString('base64')] },
      ],
      outputs: null,
    });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data).toEqual(await predictScores(jpeg));
  });

  test('the versioned infer path serves the loaded version', async () => {
    const res = await infer(
      { inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [jpeg.toString('base64')] }] },
      '/v2/models/tiny/versions/7/infer',
    );
    expect(res.status).toBe(200);
    expect(res.body.model_version).toBe('7');
  });

  test('classification parameter: top-k classes as BYTES "<score>:<index>:<label>", best first', async () => {
    const scores = await predictScores(jpeg);
    const best = scores[0] >= scores[1] ? 0 : 1;
    const res = await infer({
      inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [jpeg.toString('base64')] }],
      outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
    });
    expect(res.status).toBe(200);
    const [out] = res.body.outputs;
    expect(out.datatype).toBe('BYTES');
    expect(out.shape).toEqual([1, 2]);
    const labels = ['cat', 'dog'];
    expect(out.data).toEqual([
      `${scores[best]}:${best}:${labels[best]}`,
      `${scores[1 - best]}:${1 - best}:${labels[1 - best]}`,
    ]);
  });

  test('inference is counted in the same metrics as /predict, under its own route', async () => {
    const text = (await request(svc.server).get('/metrics')).text;
    expect(text).toMatch(
      /http_requests_total\{route="\/v2\/models\/:name\{\/versions\/:version\}\/infer",method="POST",status="200"\} [1-9]/,
    );
    expect(text).toMatch(/inference_batch_size_count [1-9]/);
  });
});

describe('bad input gets the protocol error object with a 4xx, never a 500', () => {
  const bytes = (data: unknown[], shape = [data.length]) => ({
    inputs: [{ name: 'input', shape, datatype: 'BYTES', data }],
  });

  test.each([
    ['no inputs', { inputs: [] }, 400, "'inputs' "],
    [
      'a wrong input name',
      { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['AA=='] }] },
      400,
      "use 'input'",
    ],
    [
      'an unsupported datatype',
      { inputs: [{ name: 'input', shape: [1], datatype: 'INT8', data: [1] }] },
      400,
      'send FP32',
    ],
    [
      'an FP32 shape other than the model input',
      { inputs: [{ name: 'input', shape: [1, 3, 8, 8], datatype: 'FP32', data: [] }] },
      400,
      '[N,3,32,32]',
    ],
    [
      'fewer FP32 elements than the shape',
      { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: [1, 2] }] },
      400,
      'needs 3072',
    ],
    [
      'a string among FP32 elements',
      {
        inputs: [
          { name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: ['x', ...new Array(3071).fill(0)] },
        ],
      },
      400,
      'within the float32 range',
    ],
    [
      'an FP32 element that float32 rounds to infinity',
      {
        inputs: [
          {
            name: 'input',
            shape: [1, 3, 32, 32],
            datatype: 'FP32',
            data: [-3.4028235677973366e38, ...new Array(3071).fill(0)],
          },
        ],
      },
      400,
      "'inputs.0.data.0' is -3.4028235677973366e+38",
    ],
    [
      'an FP32 element beyond the float32 range',
      {
        inputs: [
          {
            name: 'input',
            shape: [1, 3, 32, 32],
            datatype: 'FP32',
            data: [1e39, ...new Array(3071).fill(0)],
          },
        ],
      },
      400,
      "'inputs.0.data.0' is 1e+39",
    ],
    [
      'nested data that does not follow the shape',
      { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: [[[1]]] }] },
      400,
      'dimension 1',
    ],
    ['a BYTES shape of rank 2', bytes(['AA=='], [1, 1]), 400, 'shape [N]'],
    ['invalid base64', bytes(['%%%%']), 400, "'inputs.0.data.0' is not valid base64"],
    [
      'bytes that are no image',
      bytes([Buffer.from('hello world!').toString('base64')]),
      400,
      'not a JPEG, PNG or WebP',
    ],
    ['zero images', bytes([], [0]), 400, '0 images'],
    ['more images than MAX_IMAGES_PER_REQUEST', bytes(new Array(5).fill('AA==')), 413, 'at most 4 images'],
    ['an unknown output', { ...bytes(['AA==']), outputs: [{ name: 'logits' }] }, 400, "use 'probabilities'"],
    [
      'classification 0',
      { ...bytes(['AA==']), outputs: [{ name: 'probabilities', parameters: { classification: 0 } }] },
      400,
      'from 1 to 2',
    ],
    [
      'binary_data_output',
      { ...bytes(['AA==']), parameters: { binary_data_output: true } },
      400,
      'binary tensor',
    ],
    ['a non-string id', { id: 42, ...bytes(['AA==']) }, 400, "'id'"],
  ])('fails when the request has %s', async (_case, body, status, text) => {
    const res = await infer(body);
    expect(res.status).toBe(status);
    expect(Object.keys(res.body)).toEqual(['error']);
    expect(res.body.error).toContain(text);
  });

  test.each([
    ['the request', { parameters: { foo: { a: 1 } }, ...bytes(['AA==']) }, "'parameters.foo' is an object"],
    [
      'an input',
      { inputs: [{ ...bytes(['AA==']).inputs[0], parameters: { foo: null } }] },
      "'inputs.0.parameters.foo' is null",
    ],
    [
      'an output',
      { ...bytes(['AA==']), outputs: [{ name: 'probabilities', parameters: { classification: [1] } }] },
      "'outputs.0.parameters.classification' is an array",
    ],
  ])(
    'fails when a parameter of %s is no string, number or boolean: 400 saying what a parameter value is ($parameter)',
    async (_case, body, where) => {
      const res = await infer(body);
      expect([res.status, res.body]).toEqual([
        400,
        { error: `${where}: a parameter value must be a string, number or boolean` },
      ]);
    },
  );

  test.each([
    ['a BYTES element', 'BYTES', '[1]', (deep: string) => `[${deep}]`, "'inputs.0.data.0' is an array"],
    [
      'an FP32 element of flat data',
      'FP32',
      '[1,3,32,32]',
      (deep: string) => `[0,${deep}${',0'.repeat(3070)}]`,
      "'inputs.0.data.1' is an array",
    ],
    [
      'an FP32 element of nested data',
      'FP32',
      '[1,3,32,32]',
      (deep: string) => {
        const row = (first: string) => `[${first}${',0'.repeat(31)}]`;
        const channel = (first: string) => `[${[row(first), ...new Array(31).fill(row('0'))].join(',')}]`;
        return `[[${channel(deep)},${channel('0')},${channel('0')}]]`;
      },
      "'inputs.0.data.0.0.0.0' is an array",
    ],
  ])(
    'fails when %s is nested 6000 levels deep: 400 naming it, not a 500 from a stack overflow',
    async (_case, datatype, shape, data, text) => {
      // Written as text: 12 KB of brackets, deeper than a recursive JSON.stringify can go.
      const deep = `${'['.repeat(6000)}${']'.repeat(6000)}`;
      const res = await request(svc.server)
        .post('/v2/models/tiny/infer')
        .set('Content-Type', 'application/json')
        .send(`{"inputs":[{"name":"input","shape":${shape},"datatype":"${datatype}","data":${data(deep)}}]}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe(
        `${text}: ${datatype === 'FP32' ? 'FP32 elements must be numbers within the float32 range' : 'BYTES elements must be base64 strings'}`,
      );
    },
  );

  test('fails when the same output is requested twice: 400 naming the repeated field, nothing counted', async () => {
    const batches = async (): Promise<string | undefined> =>
      (await request(svc.server).get('/metrics')).text
        .split('\n')
        .find((l) => l.startsWith('inference_batch_size_count'));
    const before = await batches();
    const res = await infer({
      inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [jpeg.toString('base64')] }],
      outputs: [{ name: 'probabilities' }, { name: 'probabilities', parameters: { classification: 1 } }],
    });
    expect([res.status, res.body]).toEqual([
      400,
      {
        error:
          "'outputs.1.name' 'probabilities' is requested twice (also 'outputs.0.name'): request each output once",
      },
    ]);
    expect(await batches()).toBe(before);
  });

  test('fails when an element is a deeply nested object: 400 describing it as an object', async () => {
    const deep = `${'{"a":'.repeat(6000)}0${'}'.repeat(6000)}`;
    const res = await request(svc.server)
      .post('/v2/models/tiny/infer')
      .set('Content-Type', 'application/json')
      .send(`{"inputs":[{"name":"input","shape":[1],"datatype":"BYTES","data":[${deep}]}]}`);
    expect([res.status, res.body]).toEqual([
      400,
      { error: "'inputs.0.data.0' is an object: BYTES elements must be base64 strings" },
    ]);
  });

  test('accepts the float32 maximum as JSON writers print it (3.4028235e38, above the exact value)', async () => {
    const res = await infer({
      inputs: [
        {
          name: 'input',
          shape: [1, 3, 32, 32],
          datatype: 'FP32',
          data: [3.4028235e38, -3.4028235e38, ...new Array(3070).fill(0)],
        },
      ],
    });
    // Past the parser: what the model makes of it (a number or 422 non_finite_output) is another test's.
    expect(res.body.error ?? '').not.toContain('float32 range');
    expect([200, 422]).toContain(res.status);
  });

  test('fails when a raw tensor overflows the model: 422, never non-numbers in the output, nothing counted', async () => {
    // Predictions, and the run's batch size and duration: none of them counts a refused answer.
    const predictions = async (): Promise<string[]> =>
      (await request(svc.server).get('/metrics')).text
        .split('\n')
        .filter((l) => /^inference_(predictions_total\{|batch_size_count|duration_seconds_count)/.test(l));
    const before = await predictions();
    const res = await infer({
      inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: new Array(3072).fill(3e38) }],
    });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe(
      'the model output for image 0 is not finite: its input is far outside the range preprocessing produces',
    );
    expect(await predictions()).toEqual(before);
  });

  test('fails when an image is larger than MAX_IMAGE_PIXELS: 422', async () => {
    const res = await infer(bytes([pngHeaderOnly(10_000, 10_000).toString('base64')]));
    expect(res.status).toBe(422);
    expect(res.body.error).toContain('MAX_IMAGE_PIXELS');
  });

  test('fails when the body is not JSON: 400', async () => {
    const res = await request(svc.server)
      .post('/v2/models/tiny/infer')
      .set('Content-Type', 'application/json')
      .send('{"inputs": [');
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('not valid JSON');
  });

  test('fails when the body is binary tensor data or another type: 415', async () => {
    const binary = await request(svc.server)
      .post('/v2/models/tiny/infer')
      .set('Content-Type', 'application/octet-stream')
      .set('Inference-Header-Content-Length', '10')
      .send(Buffer.alloc(20));
    expect(binary.status).toBe(415);
    expect(binary.body.error).toBe(
      'the binary tensor extension (Inference-Header-Content-Length) is not supported: send the tensors as JSON without that header',
    );
    const text = await request(svc.server)
      .post('/v2/models/tiny/infer')
      .set('Content-Type', 'text/plain')
      .send('hi');
    expect(text.status).toBe(415);
  });

  test('fails when a JSON body carries the binary tensor extension header: 415 naming the header, not the JSON type', async () => {
    const res = await request(svc.server)
      .post('/v2/models/tiny/infer')
      .set('Content-Type', 'application/json')
      .set('Inference-Header-Content-Length', '40')
      .send(JSON.stringify(bytes([jpeg.toString('base64')])));
    expect(res.status).toBe(415);
    expect(res.body).toEqual({
      error:
        'the binary tensor extension (Inference-Header-Content-Length) is not supported: send the tensors as JSON without that header',
    });
  });

  test('fails when the body is larger than MAX_BODY_BYTES: 413', async () => {
    const res = await infer(bytes(['A'.repeat(300 * 1024)]));
    expect(res.status).toBe(413);
    expect(res.body.error).toContain('MAX_BODY_BYTES');
  });

  test('fails on an unknown model or version before reading the body: 404', async () => {
    const model = await infer(bytes(['AA==']), '/v2/models/other/infer');
    expect([model.status, model.body.error]).toEqual([
      404,
      "unknown model 'other': this server serves 'tiny'",
    ]);
    const version = await infer(bytes(['AA==']), '/v2/models/tiny/versions/8/infer');
    expect(version.status).toBe(404);
    expect(version.body.error).toContain("the served version is '7'");
  });

  test('seeded fuzz: 200 mutated requests get 200 or 4xx with the error object, and serving goes on', async () => {
    const random = seededRandom(1313);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const junk = (): unknown =>
      pick([
        null,
        true,
        0,
        -1,
        1.5,
        1e308,
        '',
        'x',
        'FP32',
        [],
        [[]],
        {},
        { a: 1 },
        'AA==',
        [1, 2],
        ['AA=='],
        [-1],
        [2 ** 53],
      ]);
    const good = (): Record<string, unknown> => ({
      id: 'f',
      inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [jpeg.toString('base64')] }],
      outputs: [{ name: 'probabilities', parameters: { classification: 1 } }],
    });
    const paths = [
      ['id'],
      ['inputs'],
      ['outputs'],
      ['parameters'],
      ['inputs', 0],
      ['inputs', 0, 'name'],
      ['inputs', 0, 'shape'],
      ['inputs', 0, 'shape', 0],
      ['inputs', 0, 'datatype'],
      ['inputs', 0, 'data'],
      ['inputs', 0, 'data', 0],
      ['inputs', 0, 'parameters'],
      ['outputs', 0, 'name'],
      ['outputs', 0, 'parameters'],
      ['outputs', 0, 'parameters', 'classification'],
    ] as const;
    const statuses = new Map<number, number>();
    const wrong: unknown[] = [];
    for (let i = 0; i < 200; i++) {
      const body = good();
      for (let m = 0; m < 1 + Math.floor(random() * 3); m++) {
        const path = pick(paths);
        let node: unknown = body;
        for (const key of path.slice(0, -1))
          node =
            node === null || typeof node !== 'object'
              ? undefined
              : (node as Record<string | number, unknown>)[key];
        if (node !== null && typeof node === 'object') {
          const last = path[path.length - 1] as string | number;
          if (random() < 0.2) delete (node as Record<string | number, unknown>)[last];
          else (node as Record<string | number, unknown>)[last] = junk();
        }
      }
      const res = await infer(body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (
        res.status !== 200 &&
        (res.status < 400 || res.status >= 500 || typeof res.body.error !== 'string')
      ) {
        wrong.push({ i, status: res.status, answer: res.body, body });
      }
    }
    expect(wrong).toEqual([]);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((s) => s !== 200).length).toBeGreaterThan(0);
    const after = await infer(good());
    expect(after.status).toBe(200);
  });
});

describe('admission: the same queue and limits as /predict', () => {
  test('fails when the queue is full: 503 + Retry-After with the protocol error object, before the body is read', async () => {
    const small = await startTestService(files, { queueMax: 0 });
    try {
      const url = new URL('/v2/models/tiny/infer', small.url);
      // A request whose body is still arriving holds the one admission place (1 worker + queue 0).
      const held = httpRequest(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      });
      const first = new Promise<number>((resolve, reject) => {
        held.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        held.on('error', reject);
      });
      held.write('{"inputs":[{"name":"input","shape":[1],"datatype":"BYTES","data":["');
      await waitFor(() => small.pool.admittedRequests === 1, 'the first request to be admitted');
      const refused = await request(small.server)
        .post('/v2/models/tiny/infer')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: ['AA=='] }] }));
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body).toEqual({ error: 'the inference queue is full (0 waiting): retry shortly' });
      held.end(`${jpeg.toString('base64')}"]}]}`);
      expect(await first).toBe(200); // the held request is served when its body completes
      const metrics = (await request(small.server).get('/metrics')).text;
      expect(metrics).toMatch(/inference_errors_total\{reason="queue_full"\} 1/);
    } finally {
      await small.close();
    }
  });
});
