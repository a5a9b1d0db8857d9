import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  describeIssues,
  ModelMetadataSchema,
  parseDescriptionPart,
  type ModelMetadata,
  type ModelMetadataInput,
} from './description';
import { checkModelIo, ModelLoadError, severalInputsProblem, type ModelIo } from './io';
import { LABELS_JSON_FILE, LABELS_TXT_FILE, parseLabelsFile } from './labels';
import { METADATA_KEY, MLMODEL_FILE, parseMlmodel, signatureMismatches, type MlmodelInfo } from './mlmodel';
import { readOnnxGraph, type OnnxGraphInfo } from './onnx-graph';

/** The kit's own description file: an explicit override of every other source, never required. */
export const METADATA_FILE = 'model.json';
/** The ONNX file of a directory without MLmodel (and the name `register` gives the ONNX file). */
export const MODEL_FILE = 'model.onnx';
/** The files besides the ONNX file that can influence serving; each one present is read (and pinned). */
export const DESCRIPTION_FILES = [MLMODEL_FILE, METADATA_FILE, LABELS_JSON_FILE, LABELS_TXT_FILE] as const;

/** A model directory resolved and checked: bytes, description, digests of every file read. */
export interface ModelFiles {
  readonly dir: string;
  /** `mlflow` (an MLmodel with the onnx flavor) or `model.json` (the kit's format before MLflow directories). */
  readonly format: 'mlflow' | 'model.json';
  /** The ONNX file's name in `dir`. */
  readonly onnxFile: string;
  /** The bytes of the ONNX file (sessions are created from these, so what was hashed is what runs). */
  readonly onnx: Uint8Array;
  /** The graph's external-data files, by the name the graph gives them (`path`): weights the session needs. */
  readonly externalData: readonly ExternalDataFile[];
  /** The resolved serving description. */
  readonly metadata: ModelMetadata;
  /** What the graph allows, checked against the description. */
  readonly io: ModelIo;
  /** sha256 of the ONNX file. */
  readonly sha256: string;
  /** sha256 of the resolved description (canonical JSON, keys sorted): changes iff serving changes. */
  readonly metadataSha256: string;
  /** sha256 of every file that was read, by file name (sorted): exactly what a pin must cover. */
  readonly files: Readonly<Record<string, string>>;
  /** Where each description field came from (`labels` → `labels.json`, …). */
  readonly sources: Readonly<Record<string, string>>;
}

/** One external-data file of the graph, as ONNX Runtime takes it (`SessionOptions.externalData`). */
export interface ExternalDataFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** Digests the directory must match. */
export interface ExpectedDigests {
  /** sha256 of the ONNX file. @default - not checked */
  readonly sha256?: string;
  /** sha256 per file: the files read must be exactly these. @default - not checked */
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * Reads a model directory and resolves its serving description from, lowest precedence first: the ONNX graph
 * (input/output names, layout, size, Softmax output), the graph's `metadata_props` `model_gitops` (JSON), a
 * `labels.json`/`labels.txt` beside it, `MLmodel`'s `metadata.model_gitops`, and `model.json`. Cross-checks
 * the MLmodel signature and the description against the graph. Throws {@link ModelLoadError} naming what is
 * missing or wrong, where it was looked for, and the Python to add to `log_model`.
 */
export async function readModelFiles(dir: string, expected: ExpectedDigests = {}): Promise<ModelFiles> {
  let names: Set<string>;
  try {
    names = new Set(await readdir(dir));
  } catch (err) {
    throw new ModelLoadError(`${dir}: cannot read the model directory (${(err as Error).message})`);
  }
  const bytes = new Map<string, Buffer>();
  const read = async (file: string): Promise<Buffer> => {
    try {
      const data = await readFile(join(dir, file));
      bytes.set(file, data);
      return data;
    } catch (err) {
      throw new ModelLoadError(`${join(dir, file)}: cannot read (${(err as Error).message})`);
    }
  };
  const text = async (file: string): Promise<string> => (await read(file)).toString('utf8');
  // A parse error (MLmodel, labels file) becomes a ModelLoadError too: callers tell a bad model by that class.
  const fail = (err: unknown): never => {
    throw err instanceof ModelLoadError ? err : new ModelLoadError((err as Error).message);
  };

  let mlmodel: MlmodelInfo | undefined;
  let onnxFile = MODEL_FILE;
  if (names.has(MLMODEL_FILE)) {
    const where = join(dir, MLMODEL_FILE);
    mlmodel = await text(MLMODEL_FILE)
      .then((t) => parseMlmodel(t, where))
      .catch(fail);
    onnxFile = mlmodel.onnxFile;
  } else if (!names.has(METADATA_FILE)) {
    throw new ModelLoadError(
      `${dir}: not a model directory: no ${MLMODEL_FILE} (nor ${METADATA_FILE}) among ${listNames(names)}: ` +
        `log the model with mlflow.onnx.log_model(onnx_model, name="model", metadata={"${METADATA_KEY}": {...}}) ` +
        'and register that version, or use the directory MLflow downloads for it',
    );
  }
  if (!names.has(onnxFile)) {
    throw new ModelLoadError(
      `${join(dir, onnxFile)}: file not found (${mlmodel ? `${MLMODEL_FILE} flavors.onnx.data names it` : `a directory with ${METADATA_FILE} and no ${MLMODEL_FILE} holds ${MODEL_FILE}`}; found: ${listNames(names)})`,
    );
  }
  const onnxPath = join(dir, onnxFile);
  const onnx = await read(onnxFile);
  let graph: OnnxGraphInfo;
  try {
    graph = readOnnxGraph(onnx, onnxPath);
  } catch (err) {
    throw new ModelLoadError(`${(err as Error).message}: the file is corrupt or not the exported model`);
  }
  const several = severalInputsProblem(graph.inputs);
  if (several) throw new ModelLoadError(`${onnxPath}: ${several}`);
  const taken = graph.externalData.find(
    (f) => f === onnxFile || (DESCRIPTION_FILES as readonly string[]).includes(f),
  );
  if (taken !== undefined) {
    throw new ModelLoadError(
      `${onnxPath}: its external data is stored in '${taken}', a file the model directory uses for something else: ` +
        'save the model again with another location for its external data',
    );
  }
  const absent = graph.externalData.filter((f) => !names.has(f));
  if (absent.length > 0) throw new ModelLoadError(missingExternalData(onnxPath, absent, [...names]));
  const externalData: ExternalDataFile[] = await Promise.all(
    graph.externalData.map(async (path) => {
      const data = await read(path);
      return { path, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    }),
  );
  if (mlmodel?.signature) {
    const problems = [
      ...signatureMismatches(mlmodel.signature.inputs, graph.inputs, 'inputs'),
      ...signatureMismatches(mlmodel.signature.outputs, graph.outputs, 'outputs'),
    ];
    if (problems.length > 0) {
      throw new ModelLoadError(
        `${join(dir, MLMODEL_FILE)}: the signature does not match ${onnxFile}: ${problems.join('; ')}: ` +
          'log the model again with the exported graph and signature=mlflow.models.infer_signature(x, y) from it',
      );
    }
  }

  // Sources, lowest precedence first.
  const parts: { source: string; part: ModelMetadataInput }[] = [];
  const propsJson = graph.metadataProps[METADATA_KEY];
  if (propsJson !== undefined) {
    const source = `${onnxFile} metadata_props '${METADATA_KEY}'`;
    let raw: unknown;
    try {
      raw = JSON.parse(propsJson);
    } catch (err) {
      throw new ModelLoadError(`${join(dir, source)}: not JSON (${(err as Error).message})`);
    }
    parts.push({ source, part: tryPart(raw, join(dir, source)) });
  }
  if (names.has(LABELS_JSON_FILE) && names.has(LABELS_TXT_FILE)) {
    throw new ModelLoadError(
      `${dir}: has both ${LABELS_JSON_FILE} and ${LABELS_TXT_FILE}: keep one (or put the labels in ${MLMODEL_FILE} metadata)`,
    );
  }
  for (const file of [LABELS_JSON_FILE, LABELS_TXT_FILE]) {
    if (!names.has(file)) continue;
    const labels = await text(file)
      .then((t) => parseLabelsFile(file, t))
      .catch(fail);
    parts.push({ source: file, part: { labels } });
  }
  if (mlmodel?.description !== undefined) {
    const source = `${MLMODEL_FILE} metadata.${METADATA_KEY}`;
    parts.push({ source, part: tryPart(mlmodel.description, join(dir, source)) });
  }
  if (names.has(METADATA_FILE)) {
    const where = join(dir, METADATA_FILE);
    const raw = await text(METADATA_FILE).then((t) => {
      try {
        return JSON.parse(t) as unknown;
      } catch (err) {
        throw new ModelLoadError(
          `${where}: not valid JSON (${(err as Error).message}): fix or regenerate the file`,
        );
      }
    });
    parts.push({ source: METADATA_FILE, part: tryPart(raw, where) });
  }

  const { merged, sources } = mergeParts(parts);
  deriveFromGraph(merged, sources, graph, dir);
  const missing = missingFields(merged, parts);
  if (missing.length > 0) throw new ModelLoadError(missingMessage(dir, missing, graph));
  const parsed = ModelMetadataSchema.safeParse(merged);
  if (!parsed.success) {
    // Never empty here (a part with preprocessing is required above); each source adds one part at most.
    const from = parts.map((p) => p.source).join(', ');
    throw new ModelLoadError(
      `${dir}: invalid model description (from ${from}): ${describeIssues(parsed.error)}`,
    );
  }
  const metadata = parsed.data;
  const io = checkModelIo(metadata, graph, onnxPath);

  const sha256 = sha256Hex(onnx);
  if (expected.sha256 !== undefined && expected.sha256 !== sha256) {
    throw new ModelLoadError(
      `${onnxPath}: sha256 is ${sha256} but MODEL_SHA256 expects ${expected.sha256}: ` +
        'the file is not the pinned model (fetch the pinned version again or fix the pin)',
    );
  }
  const files: Record<string, string> = {};
  for (const name of [...bytes.keys()].sort()) files[name] = sha256Hex(bytes.get(name) as Buffer);
  if (expected.files !== undefined) {
    const problems = fileDigestMismatches(files, expected.files);
    if (problems.length > 0) {
      throw new ModelLoadError(`${dir}: the files do not match the pin: ${problems.join('; ')}`);
    }
  }
  return {
    dir,
    format: mlmodel ? 'mlflow' : 'model.json',
    onnxFile,
    onnx: new Uint8Array(onnx.buffer, onnx.byteOffset, onnx.byteLength),
    externalData,
    metadata,
    io,
    sha256,
    metadataSha256: sha256Hex(canonicalJson(metadata)),
    files,
    sources,
  };
}

/**
 * The differences between the files read (`actual`, name → sha256) and a pin (`expected`): a pinned file not
 * read, a read file not pinned, a different digest. Empty when they are the same.
 */
export function fileDigestMismatches(
  actual: Readonly<Record<string, string>>,
  expected: Readonly<Record<string, string>>,
): string[] {
  const problems: string[] = [];
  for (const [name, sha] of Object.entries(expected)) {
    const got = actual[name];
    if (got === undefined) problems.push(`${name} is pinned but not part of the model directory`);
    else if (got !== sha) problems.push(`${name} has sha256 ${got} but the pin expects ${sha}`);
  }
  for (const name of Object.keys(actual)) {
    if (!(name in expected)) problems.push(`${name} influences serving but is not pinned`);
  }
  return problems;
}

/**
 * The message for external-data files the graph names but its directory lacks (`found` lists what it holds):
 * the same whether the directory is on disk or in the registry.
 */
export function missingExternalData(
  onnxFile: string,
  missing: readonly string[],
  found: readonly string[],
): string {
  return (
    `${onnxFile}: the graph keeps tensors in ${missing.map((f) => `'${f}'`).join(', ')} (ONNX external data, what ` +
    `mlflow.onnx.log_model writes by default) but the directory has no such file (found: ${[...found].sort().join(', ') || 'nothing'}): ` +
    'log the model again with mlflow.onnx.log_model, which uploads that file beside model.onnx, or save it with ' +
    'save_as_external_data=False'
  );
}

/** The ONNX file a directory's `MLmodel` names, or `model.onnx` without one. */
export function onnxFileOf(mlmodelText: string | undefined, where: string): string {
  return mlmodelText === undefined ? MODEL_FILE : parseMlmodel(mlmodelText, where).onnxFile;
}

/** sha256 hex of bytes or a string. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function tryPart(raw: unknown, where: string): ModelMetadataInput {
  try {
    return parseDescriptionPart(raw, where);
  } catch (err) {
    throw new ModelLoadError((err as Error).message);
  }
}

const SECTIONS = ['input', 'preprocessing', 'output'] as const;

type Merged = {
  labels?: string[];
  input: Record<string, unknown>;
  preprocessing: Record<string, unknown>;
  output: Record<string, unknown>;
};

function mergeParts(parts: readonly { source: string; part: ModelMetadataInput }[]): {
  merged: Merged;
  sources: Record<string, string>;
} {
  const merged: Merged = { input: {}, preprocessing: {}, output: {} };
  const sources: Record<string, string> = {};
  for (const { source, part } of parts) {
    if (part.labels !== undefined) {
      if (merged.labels !== undefined && !sameLabels(merged.labels, part.labels)) {
        throw new ModelLoadError(
          `the labels in ${source} (${part.labels.length}) differ from those in ${sources.labels} (${merged.labels.length}): ` +
            'keep one list, or make them equal',
        );
      }
      merged.labels = [...part.labels];
      sources.labels = source;
    }
    for (const section of SECTIONS) {
      for (const [key, value] of Object.entries(part[section] ?? {})) {
        if (value === undefined) continue;
        merged[section][key] = value;
        sources[`${section}.${key}`] = source;
      }
    }
  }
  return { merged, sources };
}

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

/**
 * Fills what the graph says unambiguously: input/output names, layout, size, and the kind of an output a Softmax
 * produces (also behind an Identity or a Cast to float).
 */
function deriveFromGraph(
  merged: Merged,
  sources: Record<string, string>,
  graph: OnnxGraphInfo,
  dir: string,
): void {
  const fromGraph = (
    section: 'input' | 'output',
    key: string,
    value: unknown,
    how = 'the ONNX graph',
  ): void => {
    if (merged[section][key] !== undefined) return;
    merged[section][key] = value;
    sources[`${section}.${key}`] = how;
  };
  if (graph.inputs.length === 1) fromGraph('input', 'name', graph.inputs[0]?.name);
  if (graph.outputs.length === 1) fromGraph('output', 'name', graph.outputs[0]?.name);
  const named = merged.input.name;
  if (typeof named === 'string' && !graph.inputs.some((i) => i.name === named)) {
    throw new ModelLoadError(
      `${dir}: the graph has no input '${named}' (inputs: ${graph.inputs.map((i) => i.name).join(', ') || 'none'}): ` +
        `fix input.name in ${sources['input.name']}`,
    );
  }
  const input = graph.inputs.find((i) => i.name === named);
  if (input) {
    const shape = input.shape ?? [];
    if (shape.length !== 4) {
      throw new ModelLoadError(
        `${dir}: input '${input.name}' has rank ${shape.length} ([${shape.join(', ')}]); an image input must have rank 4 ` +
          '(batch, channels, height, width or batch, height, width, channels)',
      );
    }
    const nchw = shape[1] === 3;
    const nhwc = shape[3] === 3;
    if (nchw !== nhwc)
      fromGraph('input', 'layout', nchw ? 'NCHW' : 'NHWC', `the ONNX graph (shape [${shape.join(', ')}])`);
    const layout = merged.input.layout;
    if (layout === 'NCHW' || layout === 'NHWC') {
      const [h, w] = layout === 'NCHW' ? [shape[2], shape[3]] : [shape[1], shape[2]];
      if (typeof h === 'number') fromGraph('input', 'height', h);
      if (typeof w === 'number') fromGraph('input', 'width', w);
    }
  }
  const outputName = merged.output.name;
  if (typeof outputName === 'string' && graph.outputs.some((o) => o.name === outputName)) {
    if (graph.producers[outputName] === 'Softmax') {
      fromGraph('output', 'kind', 'probabilities', `the ONNX graph (${outputName} is a Softmax output)`);
    }
  }
}

interface Missing {
  readonly field: string;
  readonly lookedIn: string;
  /** The Python dict entry that supplies it (inside metadata={"model_gitops": {...}}). */
  readonly python: string;
}

function missingFields(merged: Merged, parts: readonly { part: ModelMetadataInput }[]): Missing[] {
  const blocks = `${MLMODEL_FILE} metadata.${METADATA_KEY}.%, ${METADATA_FILE}, the ONNX metadata_props '${METADATA_KEY}'`;
  const where = (field: string, extra = ''): string => blocks.replace('%', field) + extra;
  const missing: Missing[] = [];
  if (merged.labels === undefined) {
    missing.push({
      field: 'labels',
      lookedIn: where('labels', `, ${LABELS_JSON_FILE}, ${LABELS_TXT_FILE}`),
      python: '"labels": class_names,  # list of str, one per output class, in output order',
    });
  }
  if (!parts.some((p) => p.part.preprocessing !== undefined)) {
    missing.push({
      field: 'preprocessing',
      lookedIn: where('preprocessing', ' (scale, mean and std cannot be read from the graph)'),
      python:
        '"preprocessing": {"resize": "center-crop", "resizeShorterSide": 256, "interpolation": "bilinear",\n' +
        '                      "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},',
    });
  }
  const input: string[] = [];
  if (merged.input.name === undefined) input.push('"name": "<the image input>"');
  if (merged.input.layout === undefined) input.push('"layout": "NCHW"  # or "NHWC" (TensorFlow/Keras)');
  if (merged.input.height === undefined) input.push('"height": 224');
  if (merged.input.width === undefined) input.push('"width": 224');
  if (input.length > 0) {
    const fields = input.map((entry) => `input.${entry.slice(1, entry.indexOf('"', 1))}`);
    const comment = input.find((e) => e.includes('#'));
    const entries = input.map((e) => e.replace(/\s*#.*$/, '')).join(', ');
    missing.push({
      field: fields.join(', '),
      lookedIn: where('input', ', the ONNX graph (ambiguous or symbolic there)'),
      python: `"input": {${entries}},${comment ? `  #${comment.split('#')[1]}` : ''}`,
    });
  }
  if (merged.output.name === undefined) {
    missing.push({
      field: 'output.name',
      lookedIn: where('output.name', ', the ONNX graph'),
      python: '"output": {"name": "<the scores output>"},',
    });
  }
  return missing;
}

function missingMessage(dir: string, missing: readonly Missing[], graph: OnnxGraphInfo): string {
  const io =
    `graph inputs: ${graph.inputs.map((i) => `${i.name} [${(i.shape ?? []).join(', ')}]`).join(', ') || 'none'}; ` +
    `outputs: ${graph.outputs.map((o) => `${o.name} [${(o.shape ?? []).join(', ')}]`).join(', ') || 'none'}`;
  const lines = [
    `${dir}: cannot tell how to serve this model: missing ${missing.map((m) => m.field).join(', ')} (${io}).`,
    ...missing.map((m) => `  ${m.field}: looked in ${m.lookedIn}`),
    'Add it when logging the model (Python), then register the new version:',
    '  mlflow.onnx.log_model(',
    '      onnx_model,',
    '      name="model",',
    '      signature=signature,',
    `      metadata={"${METADATA_KEY}": {`,
    ...missing.map((m) => `          ${m.python.replace(/\n/g, '\n      ')}`),
    '      }},',
    '  )',
  ];
  return lines.join('\n');
}

function listNames(names: ReadonlySet<string>): string {
  return [...names].sort().join(', ') || 'nothing';
}

/** JSON with object keys sorted at every level (a stable digest input). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
