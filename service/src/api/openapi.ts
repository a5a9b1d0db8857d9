/**
 * The OpenAPI 3.1 document of the service, generated from the schemas the routes validate with
 * (`service-protocol.ts`, `v2-protocol.ts`) and from the loaded model (name, version, labels, input
 * size). Served at `GET /openapi.json` and written to `service/openapi.json` by `npm run openapi`.
 */
import { z } from 'zod';
import type { ModelMetadata } from '../model/format';
import {
  FEEDBACK_ERRORS,
  HealthResponseSchema,
  MODEL_ERRORS,
  NotReadyResponseSchema,
  PREDICT_ERRORS,
  PredictJsonRequestSchema,
  REQUEST_ID_PATTERN,
  ReadyResponseSchema,
  TopKQuerySchema,
  errorBodySchema,
  feedbackRequestSchema,
  feedbackResponseSchema,
  modelResponseSchema,
  predictResponseSchema,
  type ErrorCatalog,
} from './service-protocol';
import {
  ErrorResponseSchema,
  InferenceRequestSchema,
  InferenceResponseSchema,
  ModelMetadataResponseSchema,
  ModelReadyResponseSchema,
  PROBABILITIES_OUTPUT,
  ServerLiveResponseSchema,
  ServerMetadataResponseSchema,
  ServerReadyResponseSchema,
} from './v2-protocol';

/** What the document says about the model: the parts of a loaded model it needs. */
export interface DocumentedModel {
  readonly name: string;
  readonly version: string;
  readonly metadata: ModelMetadata;
}

/** A JSON object (the document and its parts). */
export type Json = { [key: string]: unknown };

/** A 1x1 PNG, base64: the examples' image, small enough to read and a real image to try. */
const EXAMPLE_PNG_B64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==';

const RAW_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'] as const;

/** JSON Schema 2020-12 (OpenAPI 3.1's dialect) of a zod schema, as a request accepts it or a response is. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'throw' }) as Json;
  delete out.$schema;
  return out;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** Shape of one image in the model input tensor (without the batch dimension). */
export function imageShape(metadata: ModelMetadata): [number, number, number] {
  const { height, width, layout } = metadata.input;
  return layout === 'NCHW' ? [3, height, width] : [height, width, 3];
}

/** The OpenAPI 3.1 document for the service serving `model`. Deterministic: same model, same bytes. */
export function openApiDocument(model: DocumentedModel): Json {
  const { metadata } = model;
  const labels = metadata.labels;
  const shape = imageShape(metadata);
  const uniqueLabels = [...new Set(labels)];
  const jsonBody = (schema: Json, examples?: Json): Json => ({
    content: { 'application/json': { schema, ...(examples && { examples }) } },
  });
  const headers = (extra: Json = {}): Json => ({
    'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' },
    'X-Model-Version': { $ref: '#/components/headers/X-Model-Version' },
    ...extra,
  });
  const ok = (description: string, schema: Json, contentType = 'application/json'): Json => ({
    description,
    headers: headers(),
    content: { [contentType]: { schema } },
  });
  const serviceErrors = (catalog: ErrorCatalog): Json =>
    Object.fromEntries(
      Object.entries(catalog).map(([status, codes]) => [
        status,
        {
          description: `error: ${codes.join(', ')}`,
          headers: headers(
            status === '503' ? { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } : {},
          ),
          content: { 'application/json': { schema: jsonSchema(errorBodySchema(codes), 'output') } },
        },
      ]),
    );
  const v2Errors = (statuses: readonly number[]): Json =>
    Object.fromEntries(
      statuses.map((status) => [
        String(status),
        {
          description: V2_ERROR_MEANING[status] ?? 'error',
          headers: headers(
            status === 503 ? { 'Retry-After': { $ref: '#/components/headers/Retry-After' } } : {},
          ),
          content: { 'application/json': { schema: ref('V2Error') } },
        },
      ]),
    );
  const nameParam = {
    name: 'name',
    in: 'path',
    required: true,
    description: 'model name (404 for any other)',
    schema: { type: 'string', examples: [model.name] },
  };
  const versionParam = {
    name: 'version',
    in: 'path',
    required: true,
    description: 'model version (404 naming the served version for any other)',
    schema: { type: 'string', examples: [model.version] },
  };
  const v2Model = (path: string, op: Json, withVersion: boolean): [string, Json] => [
    path,
    { ...op, parameters: withVersion ? [nameParam, versionParam] : [nameParam] },
  ];

  const inferOp = (withVersion: boolean): Json => ({
    post: {
      tags: ['Open Inference Protocol v2'],
      operationId: withVersion ? 'v2InferVersion' : 'v2Infer',
      summary: 'Inference (Open Inference Protocol)',
      description:
        `One input named \`${metadata.input.name}\`: either **FP32** preprocessed images, shape ` +
        `\`[N, ${shape.join(', ')}]\` (${metadata.input.layout}, ${metadata.input.channelOrder}), data flat or ` +
        'nested in row-major order; or **BYTES**, shape `[N]`, each element a base64-encoded JPEG, PNG or WebP ' +
        `file, preprocessed like /predict. Output \`${PROBABILITIES_OUTPUT}\`: FP32 \`[N, ${labels.length}]\`, ` +
        'the probabilities /predict reports; with `parameters.classification: k` it is BYTES `[N, k]` of ' +
        '`<score>:<index>:<label>`, best first. Only JSON tensor data (no binary tensor extension).',
      requestBody: {
        required: true,
        ...jsonBody(ref('V2InferenceRequest'), {
          bytes: {
            summary: 'one image file (BYTES, base64)',
            value: {
              id: 'example-1',
              inputs: [{ name: metadata.input.name, shape: [1], datatype: 'BYTES', data: [EXAMPLE_PNG_B64] }],
            },
          },
          classification: {
            summary: 'the best class as a string',
            value: {
              inputs: [{ name: metadata.input.name, shape: [1], datatype: 'BYTES', data: [EXAMPLE_PNG_B64] }],
              outputs: [{ name: PROBABILITIES_OUTPUT, parameters: { classification: 1 } }],
            },
          },
        }),
      },
      responses: {
        '200': ok('the output tensors', ref('V2InferenceResponse')),
        ...v2Errors([400, 404, 413, 415, 422, 500, 503, 504]),
      },
    },
  });

  const paths: Json = {
    '/health': {
      get: {
        tags: ['Service'],
        operationId: 'health',
        summary: 'Liveness: 200 while the event loop runs',
        responses: { '200': ok('alive', jsonSchema(HealthResponseSchema, 'output')) },
      },
    },
    '/ready': {
      get: {
        tags: ['Service'],
        operationId: 'ready',
        summary: 'Readiness: 200 once the model is loaded and warmed up in every worker',
        responses: {
          '200': ok('ready', jsonSchema(ReadyResponseSchema, 'output')),
          '503': ok(
            'not ready (loading, draining, or no inference worker)',
            jsonSchema(NotReadyResponseSchema, 'output'),
          ),
        },
      },
    },
    '/predict': {
      post: {
        tags: ['Service'],
        operationId: 'predict',
        summary: 'Classify images',
        description:
          'One image as the body, several as multipart/form-data file parts, or JSON `{"instances":[{"b64"}]}`. ' +
          `The images are resized to ${metadata.input.width}x${metadata.input.height} by the service and run as one batch.`,
        parameters: [
          { name: 'top_k', in: 'query', required: false, schema: jsonSchema(TopKQuerySchema, 'input') },
        ],
        requestBody: {
          required: true,
          content: {
            ...Object.fromEntries(
              RAW_IMAGE_TYPES.map((type) => [
                type,
                {
                  schema: {
                    type: 'string',
                    format: 'binary',
                    contentMediaType: type === 'application/octet-stream' ? 'image/*' : type,
                  },
                },
              ]),
            ),
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: {
                  file: {
                    type: 'string',
                    format: 'binary',
                    description: 'an image; every file part is one image',
                  },
                },
                required: ['file'],
              },
            },
            'application/json': {
              schema: ref('PredictJsonRequest'),
              examples: {
                png: { summary: 'one base64 image', value: { instances: [{ b64: EXAMPLE_PNG_B64 }] } },
              },
            },
          },
        },
        responses: {
          '200': ok('one prediction per image', ref('PredictResponse')),
          ...serviceErrors(PREDICT_ERRORS),
        },
      },
    },
    '/model': {
      get: {
        tags: ['Service'],
        operationId: 'model',
        summary: 'The loaded model',
        responses: { '200': ok('the model', ref('ModelResponse')), ...serviceErrors(MODEL_ERRORS) },
      },
    },
    '/feedback': {
      post: {
        tags: ['Service'],
        operationId: 'feedback',
        summary: 'The true label of a recent prediction (counted once per prediction id)',
        requestBody: { required: true, ...jsonBody(jsonSchema(feedbackRequestSchema(labels), 'input')) },
        responses: {
          '200': ok('recorded', jsonSchema(feedbackResponseSchema(labels), 'output')),
          ...serviceErrors(FEEDBACK_ERRORS),
        },
      },
    },
    '/metrics': {
      get: {
        tags: ['Service'],
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        responses: { '200': ok('metrics', { type: 'string' }, 'text/plain') },
      },
    },
    '/openapi.json': {
      get: {
        tags: ['Service'],
        operationId: 'openapi',
        summary: 'This document',
        responses: { '200': ok('OpenAPI 3.1', { type: 'object' }), ...serviceErrors(MODEL_ERRORS) },
      },
    },
    '/docs': {
      get: {
        tags: ['Service'],
        operationId: 'docs',
        summary: 'Interactive documentation of this document (Swagger UI, served by the service)',
        responses: { '200': ok('HTML page', { type: 'string' }, 'text/html') },
      },
    },
    '/v2': {
      get: {
        tags: ['Open Inference Protocol v2'],
        operationId: 'v2ServerMetadata',
        summary: 'Server metadata',
        responses: { '200': ok('server metadata', jsonSchema(ServerMetadataResponseSchema, 'output')) },
      },
    },
    '/v2/health/live': {
      get: {
        tags: ['Open Inference Protocol v2'],
        operationId: 'v2ServerLive',
        summary: 'Server live',
        responses: { '200': ok('live', jsonSchema(ServerLiveResponseSchema, 'output')) },
      },
    },
    '/v2/health/ready': {
      get: {
        tags: ['Open Inference Protocol v2'],
        operationId: 'v2ServerReady',
        summary: 'Server ready (503 while loading, draining or without inference worker)',
        responses: {
          '200': ok('ready', jsonSchema(ServerReadyResponseSchema, 'output')),
          '503': ok('not ready', jsonSchema(ServerReadyResponseSchema, 'output')),
        },
      },
    },
    ...Object.fromEntries(
      [false, true].flatMap((withVersion) => {
        const base = withVersion ? '/v2/models/{name}/versions/{version}' : '/v2/models/{name}';
        const suffix = withVersion ? 'Version' : '';
        return [
          v2Model(
            base,
            {
              get: {
                tags: ['Open Inference Protocol v2'],
                operationId: `v2ModelMetadata${suffix}`,
                summary: 'Model metadata',
                responses: {
                  '200': ok('model metadata', jsonSchema(ModelMetadataResponseSchema, 'output')),
                  ...v2Errors([404, 503]),
                },
              },
            },
            withVersion,
          ),
          v2Model(
            `${base}/ready`,
            {
              get: {
                tags: ['Open Inference Protocol v2'],
                operationId: `v2ModelReady${suffix}`,
                summary: 'Model ready (503 with `ready: false` when not)',
                responses: {
                  '200': ok('ready', jsonSchema(ModelReadyResponseSchema, 'output')),
                  '503': ok(
                    'not ready: loading, draining or no inference worker',
                    jsonSchema(ModelReadyResponseSchema, 'output'),
                  ),
                  '404': v2Errors([404])['404'],
                },
              },
            },
            withVersion,
          ),
          v2Model(`${base}/infer`, inferOp(withVersion), withVersion),
        ];
      }),
    ),
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'model-gitops inference service',
      version: model.version,
      description:
        `Serves model \`${model.name}\` version \`${model.version}\`: ${metadata.input.width}x${metadata.input.height} ` +
        `${metadata.input.channelOrder} input (${metadata.input.layout}), ${labels.length} classes ` +
        `(${uniqueLabels.slice(0, 20).join(', ')}${uniqueLabels.length > 20 ? ', …' : ''}). ` +
        'Every response carries `X-Request-Id`; once the model is loaded also `X-Model-Version`. ' +
        'Any other path answers 404 `not_found` (under /v2: the protocol error body); a method a path does ' +
        'not list here answers 405 `method_not_allowed` (under /v2: the protocol error body) with an `Allow` ' +
        "header naming the path's methods (HEAD wherever GET is). A request that is " +
        'not valid HTTP/1.1 (e.g. no `Host` header) answers 400 `malformed_request`, one not received in ' +
        'time 408 `request_timeout`, headers over 16 KiB 431 `headers_too_large`, on any path, as ' +
        '`{"error":{"code","message"}}`.',
    },
    tags: [
      { name: 'Service', description: "The service's own API" },
      {
        name: 'Open Inference Protocol v2',
        description: 'KServe v2 / Open Inference Protocol, REST, JSON tensors',
      },
    ],
    paths,
    components: {
      schemas: {
        PredictJsonRequest: jsonSchema(PredictJsonRequestSchema, 'input'),
        PredictResponse: jsonSchema(predictResponseSchema(labels), 'output'),
        ModelResponse: jsonSchema(modelResponseSchema(labels), 'output'),
        V2InferenceRequest: jsonSchema(InferenceRequestSchema, 'input'),
        V2InferenceResponse: jsonSchema(InferenceResponseSchema, 'output'),
        V2Error: jsonSchema(ErrorResponseSchema, 'output'),
      },
      headers: {
        'X-Request-Id': {
          description: `the incoming X-Request-Id when it matches ${REQUEST_ID_PATTERN.source}, else a new UUID`,
          required: true,
          schema: { type: 'string' },
        },
        'X-Model-Version': {
          description: 'the loaded model version (absent while the model loads)',
          schema: { type: 'string', examples: [model.version] },
        },
        'Retry-After': {
          description: 'seconds to wait before retrying',
          required: true,
          schema: { type: 'string' },
        },
      },
    },
  };
}

const V2_ERROR_MEANING: Readonly<Record<number, string>> = {
  400: 'malformed request: bad JSON, schema, shape, datatype, data or image',
  404: 'no such model or version',
  413: 'body larger than MAX_BODY_BYTES, or more than MAX_IMAGES_PER_REQUEST images',
  415: 'not application/json, or the binary tensor extension (Inference-Header-Content-Length), which is not supported',
  422: 'an image with more than MAX_IMAGE_PIXELS pixels, or a raw tensor that overflows the model',
  500: 'internal error (generic message)',
  503: 'loading, queue full, overloaded, shutting down or no inference worker',
  504: 'not answered within REQUEST_TIMEOUT_MS',
};

/** The document as committed in `service/openapi.json`: 2-space JSON and a final newline. */
export function serializeOpenApi(doc: Json): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
