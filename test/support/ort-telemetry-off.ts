/**
 * Jest global setup: ONNX Runtime's telemetry off for every test. It runs in Jest's own process before the
 * test workers start (they inherit its environment). A test file cannot do it itself: its `process.env` is a
 * sandboxed copy that neither the native library nor the worker threads it starts ever read.
 */
export default async function ortTelemetryOff(): Promise<void> {
  await import('../../service/src/model/ort-telemetry');
}
