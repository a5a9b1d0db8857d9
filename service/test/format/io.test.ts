import {
  checkModelIo,
  ModelLoadError,
  ModelMetadataSchema,
  ONE_UNIT_FIX,
  type GraphIo,
  type ModelMetadata,
  type TensorInfo,
} from '../../src/model/format';

/** A description of a 2-class 224x160 (height x width) model, NCHW unless told. */
function meta(layout: 'NCHW' | 'NHWC' = 'NCHW'): ModelMetadata {
  return ModelMetadataSchema.parse({
    labels: ['cat', 'dog'],
    input: { name: 'pixels', layout, height: 224, width: 160 },
    output: { name: 'scores' },
  });
}

const input = (shape: TensorInfo['shape'], type = 'float32', name = 'pixels'): TensorInfo => ({
  name,
  type,
  shape,
});
const output = (shape: TensorInfo['shape'], type = 'float32', name = 'scores'): TensorInfo => ({
  name,
  type,
  shape,
});
const graph = (inputs: TensorInfo[], outputs: TensorInfo[]): GraphIo => ({ inputs, outputs });
const AT = "model.onnx (input 'pixels', output 'scores')";

/** The error checkModelIo throws, checked to be a ModelLoadError. */
function failure(m: ModelMetadata, g: GraphIo): string {
  try {
    checkModelIo(m, g, 'model.onnx');
  } catch (err) {
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as Error).name).toBe('ModelLoadError');
    return (err as Error).message;
  }
  throw new Error('checkModelIo accepted the graph');
}

describe('checkModelIo: a graph the service can feed', () => {
  test('NCHW with a symbolic batch: any batch, the image shape in the model layout, one class per label', () => {
    expect(
      checkModelIo(meta(), graph([input(['N', 3, 224, 160])], [output(['N', 2])]), 'model.onnx'),
    ).toEqual({
      fixedBatch: null,
      imageShape: [3, 224, 160],
      classes: 2,
    });
  });

  test('NHWC with a fixed batch of 1 and symbolic sizes and class count', () => {
    expect(
      checkModelIo(meta('NHWC'), graph([input([1, 'h', 'w', 3])], [output([1, 'classes'])]), 'model.onnx'),
    ).toEqual({ fixedBatch: 1, imageShape: [224, 160, 3], classes: 2 });
  });

  test('a batch dimension of 0 or less (unknown) reads as symbolic', () => {
    expect(
      checkModelIo(meta(), graph([input([-1, 3, 224, 160])], [output([-1, 2])]), 'x').fixedBatch,
    ).toBeNull();
    expect(
      checkModelIo(meta(), graph([input([0, 3, 224, 160])], [output([0, 2])]), 'x').fixedBatch,
    ).toBeNull();
  });

  test('other outputs beside the named one are fine', () => {
    const outputs = [output(['N', 7], 'int64', 'argmax'), output(['N', 2])];
    expect(checkModelIo(meta(), graph([input(['N', 3, 224, 160])], outputs), 'x').classes).toBe(2);
  });
});

describe('checkModelIo fails naming the tensor, what the graph has and the fix', () => {
  const good = input(['N', 3, 224, 160]);
  const scores = output(['N', 2]);

  test('fails when the graph has no input of the described name', () => {
    expect(failure(meta(), graph([input(['N', 3, 224, 160], 'float32', 'image')], [scores]))).toBe(
      `${AT}: the graph has no input 'pixels' (inputs: image): set input.name in the model_gitops metadata`,
    );
  });

  test('fails when the graph has more than one input, before asking for a name: no name makes it servable', () => {
    const fix =
      'the service feeds exactly one image input: export the model with the image as its only input (the other ' +
      'inputs fixed as constants, e.g. torch.onnx.export of a wrapper module that passes them itself)';
    expect(failure(meta(), graph([good, input([1], 'float32', 'mask')], [scores]))).toBe(
      `${AT}: the graph has 2 inputs (pixels, mask); ${fix}`,
    );
    expect(
      failure(
        meta(),
        graph([input(['N', 3, 224, 160], 'float32', 'image'), input([1], 'float32', 'mask')], [scores]),
      ),
    ).toBe(`${AT}: the graph has 2 inputs (image, mask); ${fix}`);
  });

  test('fails when the input is not float32, with the fix for its type', () => {
    expect(failure(meta(), graph([input(['N', 3, 224, 160], 'float16')], [scores]))).toBe(
      `${AT}: input 'pixels' has element type float16; the service feeds float32 only: ` +
        're-export the model with a float32 input (e.g. keep float16 weights but add a Cast)',
    );
    expect(failure(meta(), graph([input(['N', 3, 224, 160], 'uint8')], [scores]))).toBe(
      `${AT}: input 'pixels' has element type uint8; the service feeds float32 only: ` +
        're-export the model with a float32 input (a Cast to uint8 inside the graph if it needs one), and set ' +
        'preprocessing.scale to 1 so it gets pixel values 0-255 as it did',
    );
  });

  test('fails when the input is not rank 4, or declares no shape', () => {
    expect(failure(meta(), graph([input(['N', 3, 224])], [scores]))).toBe(
      `${AT}: input 'pixels' has rank 3 ([N, 3, 224]); an image input must have rank 4`,
    );
    expect(failure(meta(), graph([input(null)], [scores]))).toBe(
      `${AT}: input 'pixels' has rank 0 ([]); an image input must have rank 4`,
    );
  });

  test('fails when a fixed channel, height or width differs from the description, naming the dimension', () => {
    const fix = ': fix input.layout/height/width';
    expect(failure(meta(), graph([input(['N', 1, 224, 160])], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 1, 224, 160] but the description (layout NCHW, 224x160) needs channels = 3${fix}`,
    );
    expect(failure(meta(), graph([input(['N', 3, 160, 160])], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 3, 160, 160] but the description (layout NCHW, 224x160) needs height = 224${fix}`,
    );
    expect(failure(meta(), graph([input(['N', 3, 224, 224])], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 3, 224, 224] but the description (layout NCHW, 224x160) needs width = 160${fix}`,
    );
    // The same NCHW graph against an NHWC description: the second dimension is the height there.
    expect(failure(meta('NHWC'), graph([good], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 3, 224, 160] but the description (layout NHWC, 224x160) needs height = 224${fix}`,
    );
    expect(failure(meta('NHWC'), graph([input(['N', 224, 224, 3])], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 224, 224, 3] but the description (layout NHWC, 224x160) needs width = 160${fix}`,
    );
    expect(failure(meta('NHWC'), graph([input(['N', 224, 160, 1])], [scores]))).toBe(
      `${AT}: input 'pixels' has shape [N, 224, 160, 1] but the description (layout NHWC, 224x160) needs channels = 3${fix}`,
    );
  });

  test('fails when the batch is fixed at more than 1', () => {
    expect(failure(meta(), graph([input([8, 3, 224, 160])], [scores]))).toBe(
      `${AT}: input batch dimension is fixed at 8; the service needs 1 or a symbolic batch`,
    );
  });

  test('fails when the graph has no output of the described name', () => {
    expect(
      failure(meta(), graph([good], [output(['N', 2], 'float32', 'logits'), output(['N'], 'int64', 'top')])),
    ).toBe(
      `${AT}: the graph has no output 'scores' (outputs: logits, top): set output.name in the model_gitops metadata`,
    );
  });

  test('fails when the output is not a float32 [batch, classes] tensor', () => {
    const reads = 'the service reads a float32 [batch, classes] output';
    expect(failure(meta(), graph([good], [output(['N', 2], 'float16')]))).toBe(
      `${AT}: output 'scores' is float16 [N, 2]; ${reads}`,
    );
    expect(failure(meta(), graph([good], [output(['N', 2, 1])]))).toBe(
      `${AT}: output 'scores' is float32 [N, 2, 1]; ${reads}`,
    );
    expect(failure(meta(), graph([good], [output(null, 'non-tensor')]))).toBe(
      `${AT}: output 'scores' is a non-tensor value; ${reads}`,
    );
    expect(failure(meta(), graph([good], [output(null)]))).toBe(
      `${AT}: output 'scores' is float32 []; ${reads}`,
    );
  });

  test('fails when a fixed class count differs from the number of labels', () => {
    expect(failure(meta(), graph([good], [output(['N', 3])]))).toBe(
      `${AT}: output 'scores' has 3 classes but the description lists 2 labels: ` +
        'the labels must match the output, one per class in order',
    );
  });

  test('a one-unit output (a sigmoid binary classifier) is told how to output both classes', () => {
    expect(failure(meta(), graph([good], [output(['N', 1])]))).toBe(
      `${AT}: output 'scores' has 1 classes but the description lists 2 labels: ${ONE_UNIT_FIX}`,
    );
    expect(ONE_UNIT_FIX).toMatch(/Concat\(\[1 - p, p\], axis=1\)/);
  });
});
