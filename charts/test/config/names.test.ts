import { SERVICE_NAME } from '../../../service/src/config';
import { APP_NAME } from '../../src/config/names';

describe('APP_NAME', () => {
  test('is the name the service logs under, so logs and Kubernetes objects carry one name', () => {
    expect(APP_NAME).toBe(SERVICE_NAME);
    expect(APP_NAME).toBe('cats-dogs-classifier');
  });
});
