import { mlflowConnectionFromEnv } from '../../src/mlflow';

describe('mlflowConnectionFromEnv', () => {
  it('uses MLFLOW_TRACKING_TOKEN as a bearer token', () => {
    expect(
      mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000/', MLFLOW_TRACKING_TOKEN: 't' }),
    ).toEqual({ baseUrl: 'http://mlflow:5000', authorization: 'Bearer t' });
  });

  it('uses username and password as basic auth, also when embedded in the URI', () => {
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
    expect(
      mlflowConnectionFromEnv({
        MLFLOW_TRACKING_URI: 'https://mlflow',
        MLFLOW_TRACKING_USERNAME: 'u',
        MLFLOW_TRACKING_PASSWORD: 'p',
      }),
    ).toEqual({ baseUrl: 'https://mlflow', authorization: basic });
    expect(mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'https://u:p@mlflow' })).toEqual({
      baseUrl: 'https://mlflow',
      authorization: basic,
    });
  });

  it('treats empty variables as unset (CI exports unset secrets as empty strings)', () => {
    expect(
      mlflowConnectionFromEnv({
        MLFLOW_TRACKING_URI: 'http://mlflow:5000',
        MLFLOW_TRACKING_TOKEN: '',
        MLFLOW_TRACKING_USERNAME: '',
        MLFLOW_TRACKING_PASSWORD: '',
      }),
    ).toEqual({ baseUrl: 'http://mlflow:5000', authorization: undefined });
  });

  it('drops every trailing slash of the URI', () => {
    expect(mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000/prefix//' })).toEqual({
      baseUrl: 'http://mlflow:5000/prefix',
      authorization: undefined,
    });
  });

  it('fails when MLFLOW_TRACKING_URI is missing or empty, naming the variable and the fix', () => {
    expect(() => mlflowConnectionFromEnv({})).toThrow(
      'MLFLOW_TRACKING_URI is not set: export MLFLOW_TRACKING_URI=http(s)://<mlflow-host>:<port>',
    );
    expect(() => mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: '' })).toThrow(
      'MLFLOW_TRACKING_URI is empty: export MLFLOW_TRACKING_URI=http(s)://<mlflow-host>:<port>',
    );
  });

  it('fails when MLFLOW_TRACKING_URI is not a URL', () => {
    expect(() => mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'mlflow.internal' })).toThrow(
      'MLFLOW_TRACKING_URI is not a URL: set it to http(s)://<mlflow-host>:<port> (the MLflow tracking server)',
    );
  });

  it('fails when MLFLOW_TRACKING_URI is not an http(s) URL', () => {
    expect(() => mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'file:///mlruns' })).toThrow(
      "MLFLOW_TRACKING_URI must be an http(s) URL of a tracking server (got scheme 'file:'); " +
        'file and database stores are not supported here',
    );
  });

  it('fails when only the username or only the password is set', () => {
    const message =
      'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together (or use MLFLOW_TRACKING_TOKEN)';
    expect(() =>
      mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_USERNAME: 'u' }),
    ).toThrow(message);
    expect(() =>
      mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_PASSWORD: 'p' }),
    ).toThrow(message);
  });
});
