import { artifactProxyPath, encodeArtifactPath, joinArtifactPath } from '../../src/mlflow';

describe('artifactProxyPath', () => {
  it('strips the scheme of mlflow-artifacts:/ URIs', () => {
    expect(artifactProxyPath('mlflow-artifacts:/1/abc/artifacts/model')).toBe('1/abc/artifacts/model');
  });

  it('strips the authority of host-qualified URIs and trailing slashes', () => {
    expect(artifactProxyPath('mlflow-artifacts://mlflow:5000/1/abc/artifacts/model/')).toBe(
      '1/abc/artifacts/model',
    );
  });

  it('fails when the URI is not an mlflow-artifacts: URI', () => {
    expect(() => artifactProxyPath('s3://bucket/model')).toThrow(
      "'s3://bucket/model' is not an mlflow-artifacts: URI",
    );
  });

  it('fails when the URI contains .. segments', () => {
    expect(() => artifactProxyPath('mlflow-artifacts:/1/../../etc')).toThrow(/contains '.' or '..' segments/);
  });
});

describe('joinArtifactPath and encodeArtifactPath', () => {
  it('joins with exactly one slash', () => {
    expect(joinArtifactPath('1/abc/', '/model.onnx')).toBe('1/abc/model.onnx');
  });

  it('percent-encodes each segment but keeps the slashes', () => {
    expect(encodeArtifactPath('1/my model/a#b.onnx')).toBe('1/my%20model/a%23b.onnx');
  });
});
