import { MlflowError } from '../../src/mlflow';

describe('MlflowError', () => {
  it('names itself in stack traces and keeps kind, status and MLflow error code', () => {
    const err = new MlflowError('get run: not found', 'not-found', 404, 'RESOURCE_DOES_NOT_EXIST');
    expect(String(err)).toBe('MlflowError: get run: not found');
    expect(err).toMatchObject({ kind: 'not-found', status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
    expect(err).toBeInstanceOf(Error);
  });
});
