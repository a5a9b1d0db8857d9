import { randomUUID } from 'node:crypto';
import { Document, Scalar, parse } from 'yaml';
import { z } from 'zod';
import type { TensorInfo } from './onnx-graph';

/** MLflow's model descriptor file in a model directory. */
export const MLMODEL_FILE = 'MLmodel';
/** The key of our block inside `MLmodel`'s `metadata:` (what `log_model(..., metadata={...})` writes). */
export const METADATA_KEY = 'model_gitops';

/** A file name inside the model directory: no directories, no `.`/`..`. */
export const MODEL_DIR_FILE_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,255}$/;

const MlmodelSchema = z
  .object({
    flavors: z.record(z.string(), z.unknown()),
    metadata: z.record(z.string(), z.unknown()).nullish(),
    signature: z
      .object({ inputs: z.string().nullish(), outputs: z.string().nullish() })
      .passthrough()
      .nullish(),
  })
  .passthrough();

const OnnxFlavorSchema = z
  .object({ data: z.string().regex(MODEL_DIR_FILE_NAME, 'must be a file name in the model directory') })
  .passthrough();

const TensorSpecSchema = z.array(
  z.object({
    name: z.string().optional(),
    type: z.literal('tensor'),
    'tensor-spec': z.object({ dtype: z.string(), shape: z.array(z.number().int()) }),
  }),
);

/** One tensor of an MLmodel signature: `shape` uses -1 for a free dimension. */
export interface SignatureTensor {
  readonly name?: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

/** What the service uses from an `MLmodel`. */
export interface MlmodelInfo {
  /** The ONNX file (`flavors.onnx.data`). */
  readonly onnxFile: string;
  /** `metadata.model_gitops` as written (validated by the resolver), or undefined. */
  readonly description: unknown;
  /** Tensor signature, when the MLmodel has one. */
  readonly signature?: { readonly inputs: SignatureTensor[]; readonly outputs: SignatureTensor[] };
}

/**
 * Parses an MLmodel (YAML) as MLflow writes it: needs the `onnx` flavor; reads its `data:`, the
 * `metadata.model_gitops` block and a tensor signature. Throws an Error naming `where` and the fix.
 */
export function parseMlmodel(text: string, where: string): MlmodelInfo {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new Error(
      `${where}: not valid YAML (${firstLine(err)}): it must be the MLmodel file MLflow writes`,
    );
  }
  const parsed = MlmodelSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${where}: not an MLflow MLmodel ('${issue?.path.join('.') || '(root)'}' ${issue?.message}): log the model with mlflow.onnx.log_model(...)`,
    );
  }
  const mlmodel = parsed.data;
  const flavor = OnnxFlavorSchema.safeParse(mlmodel.flavors.onnx);
  if (!flavor.success) {
    const present = Object.keys(mlmodel.flavors).join(', ') || 'none';
    const detail =
      mlmodel.flavors.onnx === undefined
        ? `has no 'onnx' flavor (flavors: ${present})`
        : `'flavors.onnx.data' ${flavor.error.issues[0]?.message}`;
    throw new Error(
      `${where}: ${detail}: the service runs ONNX models; export to ONNX and log it with ` +
        'mlflow.onnx.log_model(onnx_model, name="model", ...)',
    );
  }
  let signature: MlmodelInfo['signature'];
  const sig = mlmodel.signature;
  if (sig?.inputs && sig.outputs) {
    signature = {
      inputs: parseSpecs(sig.inputs, `${where} signature.inputs`),
      outputs: parseSpecs(sig.outputs, `${where} signature.outputs`),
    };
  }
  const metadata = mlmodel.metadata ?? undefined;
  return { onnxFile: flavor.data.data, description: metadata?.[METADATA_KEY], signature };
}

function parseSpecs(json: string, where: string): SignatureTensor[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${where}: not JSON (${firstLine(err)})`);
  }
  const parsed = TensorSpecSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `${where}: not a tensor signature (${parsed.error.issues[0]?.message}): log the model with ` +
        'signature=mlflow.models.infer_signature(example_input_numpy, example_output_numpy)',
    );
  }
  return parsed.data.map((t) => ({
    ...(t.name !== undefined ? { name: t.name } : {}),
    dtype: t['tensor-spec'].dtype,
    shape: t['tensor-spec'].shape,
  }));
}

/** ONNX Runtime element type name → numpy dtype name (MLflow's tensor-spec dtype). */
const NUMPY_DTYPES: Record<string, string> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  uint8: 'uint8',
  int8: 'int8',
  uint16: 'uint16',
  int16: 'int16',
  int32: 'int32',
  int64: 'int64',
  uint32: 'uint32',
  uint64: 'uint64',
  bool: 'bool',
  string: 'str',
};

/** The signature tensor MLflow's `infer_signature` would record for a graph input/output (symbolic dims → -1). */
export function signatureOf(t: TensorInfo): SignatureTensor {
  return {
    name: t.name,
    dtype: NUMPY_DTYPES[t.type] ?? t.type,
    shape: (t.shape ?? []).map((d) => (typeof d === 'number' ? d : -1)),
  };
}

/**
 * Checks an MLmodel signature against the graph: as many tensors, same names (when the signature names
 * them, else same order), same dtype, same rank, equal sizes where both are fixed. Returns the mismatches.
 */
export function signatureMismatches(
  sig: readonly SignatureTensor[],
  graph: readonly TensorInfo[],
  side: 'inputs' | 'outputs',
): string[] {
  if (sig.length !== graph.length) {
    return [
      `signature.${side} lists ${sig.length} tensors but the graph has ${graph.length} (${graph.map((t) => t.name).join(', ')})`,
    ];
  }
  const problems: string[] = [];
  sig.forEach((s, i) => {
    const g = s.name !== undefined ? graph.find((t) => t.name === s.name) : graph[i];
    const label = `signature.${side} '${s.name ?? `#${i}`}'`;
    if (!g) {
      problems.push(
        `${label} is not a graph ${side.slice(0, -1)} (graph: ${graph.map((t) => t.name).join(', ')})`,
      );
      return;
    }
    const want = signatureOf(g);
    const dimsAgree =
      s.shape.length === want.shape.length &&
      s.shape.every((d, k) => d === -1 || want.shape[k] === -1 || d === want.shape[k]);
    if (s.dtype !== want.dtype || !dimsAgree) {
      problems.push(
        `${label} is ${s.dtype} [${s.shape.join(', ')}] but the graph has ${want.dtype} [${want.shape.join(', ')}]`,
      );
    }
  });
  return problems;
}

/** Python's `json.dumps` layout (`", "` and `": "` separators), as MLflow writes signature strings. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

function specJson(specs: readonly SignatureTensor[]): string {
  return pythonJson(
    specs.map((s) => ({
      ...(s.name !== undefined ? { name: s.name } : {}),
      type: 'tensor',
      'tensor-spec': { dtype: s.dtype, shape: s.shape },
    })),
  );
}

/** What {@link formatMlmodel} writes. */
export interface MlmodelFields {
  /** The ONNX file name (`flavors.onnx.data`). */
  readonly onnxFile: string;
  /** The serving description, written as `metadata.model_gitops`. @default - no metadata key */
  readonly description?: unknown;
  readonly inputs: readonly SignatureTensor[];
  readonly outputs: readonly SignatureTensor[];
  /** `artifact_path` (the run-relative directory). @default 'model' */
  readonly artifactPath?: string;
  /** The run the artifacts are logged in. @default - no run_id key */
  readonly runId?: string;
  /** `mlflow_version`: the MLflow whose format is written. @default MLFLOW_FORMAT_VERSION */
  readonly mlflowVersion?: string;
  /** `onnx_version` of the flavor. @default ONNX_PACKAGE_VERSION */
  readonly onnxVersion?: string;
  /** @default - a random uuid4 hex */
  readonly modelUuid?: string;
  /** @default - now */
  readonly created?: Date;
}

/** The MLflow version whose MLmodel shape {@link formatMlmodel} reproduces (recorded from 3.6.1.dev0). */
export const MLFLOW_FORMAT_VERSION = '3.6.0';
/** The `onnx` Python package version MLflow records in the flavor (informational for MLflow). */
export const ONNX_PACKAGE_VERSION = '1.12.0';

/**
 * An `MLmodel` in the shape MLflow 3 writes (`Model.save`: keys sorted, block style, the signature as JSON
 * strings, `utc_time_created` quoted) with the `onnx` flavor only: `python_function` would need the conda
 * and virtualenv files, which are not written.
 */
export function formatMlmodel(f: MlmodelFields): string {
  const created = (f.created ?? new Date()).toISOString().replace('T', ' ').replace('Z', '000');
  const quoted = new Scalar(created);
  quoted.type = Scalar.QUOTE_SINGLE;
  const doc = new Document(
    {
      artifact_path: f.artifactPath ?? 'model',
      flavors: {
        onnx: {
          code: null,
          data: f.onnxFile,
          onnx_version: f.onnxVersion ?? ONNX_PACKAGE_VERSION,
          providers: ['CPUExecutionProvider'],
        },
      },
      ...(f.description !== undefined ? { metadata: { [METADATA_KEY]: f.description } } : {}),
      mlflow_version: f.mlflowVersion ?? MLFLOW_FORMAT_VERSION,
      model_uuid: f.modelUuid ?? randomUUID().replace(/-/g, ''),
      ...(f.runId !== undefined ? { run_id: f.runId } : {}),
      signature: { inputs: specJson(f.inputs), outputs: specJson(f.outputs), params: null },
      utc_time_created: quoted,
    },
    { sortMapEntries: true },
  );
  return doc.toString({
    indentSeq: false,
    lineWidth: 80,
    minContentWidth: 0,
    singleQuote: true,
    nullStr: 'null',
  });
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}
