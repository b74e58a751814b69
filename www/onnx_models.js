// The ONNX models the user brought in this page: their bytes and description, kept here so that
// every worker's load (pool.js starts several on the CPU; api.js replays a load after a restart)
// hands them to the wasm instance, which reads them (registerOnnx) before Session.create.

/** @typedef {{bytes: Uint8Array, description: string, version: number}} OnnxModel */

/** @type {Map<string, OnnxModel>} */
const models = new Map();
let version = 0;

/**
 * Keep a model under `name` (a file name ending in .onnx), replacing one of the same name.
 * @param {string} name @param {Uint8Array} bytes @param {string} description JSON of the keys of docs/onnx.md
 */
export function keepOnnx(name, bytes, description) {
  version += 1;
  models.set(name, { bytes, description, version });
}

/** Whether `name` is a model brought by the user. @param {string} name */
export function isOnnx(name) { return models.has(name); }

/**
 * The extra arguments of a 'load' for `model` (none for a zoo model).
 * @param {string} model
 * @returns {{onnx?: OnnxModel}}
 */
export function onnxArgs(model) {
  const m = models.get(model);
  return m ? { onnx: m } : {};
}
