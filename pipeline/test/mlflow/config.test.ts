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

  it('fails when MLFLOW_TRACKING_URI is missing, naming the variable', () => {
    expect(() => mlflowConnectionFromEnv({})).toThrow(/^MLFLOW_TRACKING_URI is not set/);
  });

  it('fails when MLFLOW_TRACKING_URI is not an http(s) URL', () => {
    expect(() => mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'file:///mlruns' })).toThrow(
      /must be an http\(s\) URL/,
    );
  });

  it('fails when only the username is set', () => {
    expect(() =>
      mlflowConnectionFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_USERNAME: 'u' }),
    ).toThrow(/must be set together/);
  });
});
