import { artifactProxyPath, encodeArtifactPath } from '../../src/mlflow';

describe('artifactProxyPath', () => {
  it('strips the scheme of mlflow-artifacts:/ URIs', () => {
    expect(artifactProxyPath('mlflow-artifacts:/1/abc/artifacts/model')).toBe('1/abc/artifacts/model');
  });

  it('strips the authority of host-qualified URIs and trailing slashes', () => {
    expect(artifactProxyPath('mlflow-artifacts://mlflow:5000/1/abc/artifacts/model/')).toBe(
      '1/abc/artifacts/model',
    );
  });

  it('strips every leading and trailing slash of the path', () => {
    expect(artifactProxyPath('mlflow-artifacts://mlflow:5000//1/abc/artifacts/model//')).toBe(
      '1/abc/artifacts/model',
    );
    expect(artifactProxyPath('mlflow-artifacts:/1/abc/')).toBe('1/abc');
  });

  it('fails when the URI is not an mlflow-artifacts: URI', () => {
    expect(() => artifactProxyPath('s3://bucket/model')).toThrow(
      "'s3://bucket/model' is not an mlflow-artifacts: URI",
    );
  });

  it('fails when the scheme is not at the start or the URI spans lines', () => {
    for (const uri of ['x-mlflow-artifacts:/1/abc', 'mlflow-artifacts:/1/abc\nHost: evil']) {
      expect(() => artifactProxyPath(uri)).toThrow(`'${uri}' is not an mlflow-artifacts: URI`);
    }
  });

  it('fails when the URI contains . or .. segments', () => {
    for (const uri of [
      'mlflow-artifacts:/1/../../etc',
      'mlflow-artifacts:/1/./abc',
      'mlflow-artifacts:/1/abc/..',
    ]) {
      expect(() => artifactProxyPath(uri)).toThrow(`artifact URI '${uri}' contains '.' or '..' segments`);
    }
    expect(artifactProxyPath('mlflow-artifacts:/1/.abc/a..b')).toBe('1/.abc/a..b');
  });
});

describe('encodeArtifactPath', () => {
  it('percent-encodes each segment but keeps the slashes', () => {
    expect(encodeArtifactPath('1/my model/a#b.onnx')).toBe('1/my%20model/a%23b.onnx');
  });
});
