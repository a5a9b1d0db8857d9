import { PREDICT_ERRORS } from '../src/api/service-protocol';
import {
  ImageError,
  PREDICTION_ERROR_STATUS,
  PredictionError,
  predictionAppError,
  type PredictionErrorCode,
} from '../src/errors';

describe('prediction errors at the HTTP edge', () => {
  const codes = Object.keys(PREDICTION_ERROR_STATUS) as PredictionErrorCode[];

  test('every prediction error code is documented for /predict under the status it is answered with', () => {
    // 499 is never answered: the client has left (it is only logged and counted).
    for (const code of codes.filter((c) => PREDICTION_ERROR_STATUS[c] !== 499)) {
      const status = PREDICTION_ERROR_STATUS[code];
      expect({ code, documented: PREDICT_ERRORS[status] ?? [] }).toEqual({
        code,
        documented: expect.arrayContaining([code]),
      });
    }
  });

  test('client mistakes are 4xx, capacity 503, time 504, the model run 500', () => {
    expect(PREDICTION_ERROR_STATUS).toEqual({
      image_empty: 400,
      image_undecodable: 400,
      image_too_large: 422,
      queue_full: 503,
      shutting_down: 503,
      no_inference_worker: 503,
      timeout: 504,
      client_gone: 499,
      inference_failed: 500,
    });
  });

  test('an AppError keeps the code and message, with Retry-After only when the error says when to retry', () => {
    const full = predictionAppError(new PredictionError('queue_full', 'the queue is full', 1));
    expect(full).toMatchObject({ status: 503, code: 'queue_full', message: 'the queue is full' });
    expect(full.headers).toEqual({ 'Retry-After': '1' });
    const bad = predictionAppError(new ImageError(2, 'image_too_large', 'image 2: too large'));
    expect(bad).toMatchObject({ status: 422, code: 'image_too_large', message: 'image 2: too large' });
    expect(bad.headers).toEqual({});
  });
});
