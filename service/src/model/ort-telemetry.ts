/**
 * ONNX Runtime telemetry off: the one home of that rule. Imported by `loader.ts` (the only module that
 * imports onnxruntime-node) before onnxruntime-node itself, and by the inference pool, which starts the
 * worker threads that load it (the service's main thread resolves models without ONNX Runtime).
 *
 * onnxruntime-node 1.30 on Linux starts Microsoft's telemetry client (1DS) when a process creates its first
 * session: DNS lookups of `mobile.events.data.microsoft.com`, `$HOME/.cache/Microsoft/DeveloperTools/
 * .onnxruntime/{deviceid,onnxruntime.db}` and `/tmp/mat-debug-<pid>.log`. It reads `ORT_DISABLE_TELEMETRY`
 * from the process's OS environment (getenv), so the variable must be set on the main thread before any
 * session exists: Node worker threads and Jest test sandboxes hold a copy of `process.env` that native code
 * never sees (checked: set only in the worker, the files still appear). Whatever starts inference imports
 * this module on its main thread: the pool before its workers, `loader.ts` for in-process sessions; Jest imports this
 * module in its global setup (`test/support/ort-telemetry-off.ts`), before any test process starts.
 */

process.env.ORT_DISABLE_TELEMETRY = '1';

export {};
