import {
  metadataBlockOf,
  parseDescriptionPart,
  parseModelMetadata,
  shorterSideFor,
  type ModelMetadataInput,
} from '../../src/model/format';

/** A complete description as a full `model.json` holds it (only the required fields). */
const MINIMAL = {
  labels: ['cat', 'dog'],
  input: { name: 'input', height: 224, width: 224 },
  output: { name: 'probabilities' },
};

/** `MINIMAL` with one section's fields replaced or added. */
function withField(section: 'input' | 'preprocessing' | 'output', field: string, value: unknown): unknown {
  const base = MINIMAL as Record<string, unknown>;
  return { ...MINIMAL, [section]: { ...(base[section] as object | undefined), [field]: value } };
}

const invalid = (raw: unknown): string => {
  try {
    parseModelMetadata(raw, 'v3/model.json');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('parsed');
};

describe('the complete description: required names and sizes, every other field defaulted', () => {
  test('the defaults: NCHW, RGB, squash, bilinear, 1/255, mean 0, std 1, white background, logits', () => {
    expect(parseModelMetadata(MINIMAL, 'model.json')).toEqual({
      schemaVersion: 1,
      labels: ['cat', 'dog'],
      input: { name: 'input', layout: 'NCHW', height: 224, width: 224, channelOrder: 'RGB' },
      preprocessing: {
        resize: 'squash',
        interpolation: 'bilinear',
        scale: 1 / 255,
        mean: [0, 0, 0],
        std: [1, 1, 1],
        background: '#ffffff',
      },
      output: { name: 'probabilities', kind: 'logits' },
    });
  });

  test('the defaults are fresh arrays each time (changing one parse does not change the next)', () => {
    const a = parseModelMetadata(MINIMAL, 'model.json');
    a.preprocessing.mean[0] = 9;
    a.preprocessing.std[0] = 9;
    const b = parseModelMetadata(MINIMAL, 'model.json');
    expect(b.preprocessing.mean).toEqual([0, 0, 0]);
    expect(b.preprocessing.std).toEqual([1, 1, 1]);
  });

  test('keeps every field it is given', () => {
    const full = {
      schemaVersion: 1,
      labels: ['a', 'a', 'b'],
      input: { name: 'x', layout: 'NHWC', height: 4096, width: 1, channelOrder: 'BGR' },
      preprocessing: {
        resize: 'center-crop',
        resizeShorterSide: 8192,
        interpolation: 'lanczos3',
        scale: 1,
        mean: [103.9, 116.8, 123.7],
        std: [-1, 0.5, 2],
        background: '#A0b1C2',
      },
      output: { name: 'y', kind: 'probabilities' },
    };
    expect(parseModelMetadata(full, 'model.json')).toEqual(full);
    for (const interpolation of ['nearest', 'bilinear', 'bicubic', 'lanczos3']) {
      expect(
        parseModelMetadata(withField('preprocessing', 'interpolation', interpolation), 'm').preprocessing,
      ).toMatchObject({ interpolation });
    }
  });

  test('fails naming the file, the field and the rule for each bad value', () => {
    const cases: [unknown, string][] = [
      [{ ...MINIMAL, labels: [] }, "'labels' "],
      [
        { ...MINIMAL, labels: ['cat'] },
        "'labels' a classifier has at least 2 classes, one label each: a binary ",
      ],
      [{ ...MINIMAL, labels: [''] }, "'labels.0' "],
      [{ ...MINIMAL, labels: ['x'.repeat(201)] }, "'labels.0' "],
      [{ ...MINIMAL, schemaVersion: 2 }, "'schemaVersion' "],
      [{ ...MINIMAL, extra: 1 }, "'(root)' "],
      [withField('input', 'name', ''), "'input.name' "],
      [withField('input', 'layout', 'CHW'), "'input.layout' "],
      [withField('input', 'height', 0), "'input.height' "],
      [withField('input', 'height', 4097), "'input.height' "],
      [withField('input', 'width', 0), "'input.width' "],
      [withField('input', 'width', 4097), "'input.width' "],
      [withField('input', 'width', 22.5), "'input.width' "],
      [withField('input', 'channelOrder', 'RGBA'), "'input.channelOrder' "],
      [withField('input', 'size', 3), "'input' "],
      [withField('preprocessing', 'resize', 'crop'), "'preprocessing.resize' "],
      [withField('preprocessing', 'resizeShorterSide', 8193), "'preprocessing.resizeShorterSide' "],
      [withField('preprocessing', 'resizeShorterSide', 0), "'preprocessing.resizeShorterSide' "],
      [withField('preprocessing', 'interpolation', 'area'), "'preprocessing.interpolation' "],
      [withField('preprocessing', 'scale', 0), "'preprocessing.scale' "],
      [withField('preprocessing', 'scale', Infinity), "'preprocessing.scale' "],
      [withField('preprocessing', 'mean', [0, 0]), "'preprocessing.mean' "],
      [withField('preprocessing', 'mean', [0, 0, Number.NaN]), "'preprocessing.mean.2' "],
      [withField('preprocessing', 'std', [1, 0, 1]), "'preprocessing.std' std values must not be 0"],
      [withField('preprocessing', 'std', [1, 1, Infinity]), "'preprocessing.std.2' "],
      [
        withField('preprocessing', 'background', '#fff'),
        "'preprocessing.background' must be a colour like #ffffff",
      ],
      [
        withField('preprocessing', 'background', 'x#ffffff'),
        "'preprocessing.background' must be a colour like #ffffff",
      ],
      [
        withField('preprocessing', 'background', '#ffffffx'),
        "'preprocessing.background' must be a colour like #ffffff",
      ],
      [
        withField('preprocessing', 'background', '#gggggg'),
        "'preprocessing.background' must be a colour like #ffffff",
      ],
      [withField('output', 'kind', 'softmax'), "'output.kind' "],
      [withField('output', 'name', ''), "'output.name' "],
      [withField('output', 'extra', 1), "'output' "],
    ];
    for (const [raw, field] of cases) {
      expect(invalid(raw)).toContain(`v3/model.json: invalid model metadata: ${field}`);
    }
    // Every issue, joined with '; '.
    expect(invalid({ ...MINIMAL, output: {}, labels: [] })).toMatch(
      /^v3\/model\.json: invalid model metadata: 'labels' [^;]+; 'output\.name' [^;]+$/,
    );
  });

  test('the largest sizes and the smallest are accepted', () => {
    for (const size of [1, 4096]) {
      const meta = parseModelMetadata({ ...MINIMAL, input: { name: 'x', height: size, width: size } }, 'm');
      expect(meta.input).toMatchObject({ height: size, width: size });
    }
    expect(parseModelMetadata({ ...MINIMAL, labels: ['x'.repeat(200), 'y'] }, 'm').labels[0]).toHaveLength(
      200,
    );
  });

  test('resizeShorterSide must be at least the larger input side, saying which', () => {
    const meta = (side: number): unknown => ({
      ...MINIMAL,
      input: { name: 'x', height: 224, width: 300 },
      preprocessing: { resize: 'center-crop', resizeShorterSide: side },
    });
    expect(parseModelMetadata(meta(300), 'm').preprocessing.resizeShorterSide).toBe(300);
    expect(invalid(meta(299))).toBe(
      "v3/model.json: invalid model metadata: 'preprocessing.resizeShorterSide' must be ≥ the larger input side (300) to crop from",
    );
  });

  test('shorterSideFor: resizeShorterSide when given, else round(larger side / 0.875) (256 for 224)', () => {
    const size = (height: number, width: number, resizeShorterSide?: number): number =>
      shorterSideFor(
        parseModelMetadata(
          { ...MINIMAL, input: { name: 'x', height, width }, preprocessing: { resizeShorterSide } },
          'm',
        ),
      );
    expect(size(224, 224)).toBe(256);
    expect(size(224, 299)).toBe(342); // 341.71 rounds up
    expect(size(300, 100)).toBe(343); // 342.86
    expect(size(7, 7)).toBe(8);
    expect(size(224, 224, 480)).toBe(480);
  });
});

describe('one source part of the description', () => {
  test('every field is optional; the values are kept as written, no defaults added', () => {
    expect(parseDescriptionPart({}, 'MLmodel metadata.model_gitops')).toEqual({});
    const part = {
      input: { layout: 'NHWC' },
      preprocessing: { scale: 1 },
      output: { kind: 'probabilities' },
    };
    expect(parseDescriptionPart(part, 'x')).toEqual(part);
  });

  test('fails naming the source and the field: unknown fields, bad values, not an object', () => {
    expect(() => parseDescriptionPart({ input: { size: 3 } }, 'v3/MLmodel metadata.model_gitops')).toThrow(
      /^v3\/MLmodel metadata\.model_gitops: invalid model description: 'input' /,
    );
    expect(() => parseDescriptionPart({ lables: ['a'] }, 'model.json')).toThrow(
      /^model\.json: invalid model description: '\(root\)' /,
    );
    expect(() => parseDescriptionPart({ preprocessing: { std: [0, 1, 1] } }, 'model.json')).toThrow(
      "model.json: invalid model description: 'preprocessing.std' std values must not be 0",
    );
    expect(() => parseDescriptionPart(['a'], 'model.json')).toThrow(
      /^model\.json: invalid model description: '\(root\)' /,
    );
  });

  test('metadataBlockOf drops schemaVersion (a model.json field) and keeps the rest, without changing its input', () => {
    const description: ModelMetadataInput = { schemaVersion: 1, ...MINIMAL };
    expect(metadataBlockOf(description)).toEqual(MINIMAL);
    expect(description.schemaVersion).toBe(1);
  });
});
