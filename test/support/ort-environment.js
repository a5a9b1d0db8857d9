// Jest environment for tests that run onnxruntime-node in-process: the native binding creates output
// typed arrays in the host realm, and onnxruntime-common checks them with `instanceof` in the test realm.
// Sharing the host's typed-array constructors makes both realms agree.
const { TestEnvironment } = require('jest-environment-node');

class OrtEnvironment extends TestEnvironment {
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

// Under StrykerJS (`npm run mutate`), its mixin records which test covers which mutant (per-test coverage).
module.exports =
  process.env.STRYKER_MUTATOR_WORKER === undefined
    ? OrtEnvironment
    : require('@stryker-mutator/jest-runner').mixinJestEnvironment(OrtEnvironment);
