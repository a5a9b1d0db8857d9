// Jest environment for tests that run onnxruntime-node in process. Jest gives each test file its own
// realm, so the typed arrays the native binding creates (host realm) fail onnxruntime-common's
// `instanceof Float32Array` checks (test realm). Sharing the host's typed-array constructors fixes that.
const { TestEnvironment } = require('jest-environment-node');

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of [
      'ArrayBuffer',
      'Uint8Array',
      'Int8Array',
      'Uint16Array',
      'Int16Array',
      'Uint32Array',
      'Int32Array',
      'Float32Array',
      'Float64Array',
      'BigInt64Array',
      'BigUint64Array',
    ]) {
      this.global[name] = globalThis[name];
    }
  }
}

module.exports = OnnxEnvironment;
