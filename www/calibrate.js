// The 'auto' device choice where the browser has a hardware WebGPU adapter as well as the CPU:
// one forward pass at the model's working size is timed on each (after one untimed pass that
// compiles WebGPU's kernels and warms the CPU's code) and the faster is kept; the page says
// which and why. Software adapters (SwiftShader, llvmpipe: the wasm API's probeAdapter
// classifies them) are never candidates, except with the test hook `?calibrate=software`.
//
// Timings run one after the other, never side by side: a software adapter runs on the same
// CPU cores.

/** @typedef {{backend: 'webgpu' | 'cpu', text: string, webgpu_ms: number, cpu_ms: number, webgpu_first_ms: number, adapter: string, width: number, height: number}} Calibration */

/** A WebGPU first pass this many times slower than the CPU's timed pass ends the calibration. */
const HOPELESS = 10;

/** Whether the page treats a software adapter as a candidate (`?calibrate=software`, for tests). */
export function calibrateSoftware() {
  return new URLSearchParams(globalThis.location ? location.search : '').get('calibrate') === 'software';
}

/**
 * Calibrate in two workers (see the top of the file): `gpu` loads `model` on WebGPU, `cpu` on
 * the CPU. Resolves to the choice, or null when WebGPU is not a candidate (then 'auto' is
 * decided by the wasm API alone).
 * @param {import('./api.js').Api} gpu @param {import('./api.js').Api} cpu @param {string} model
 * @param {(p: import('./api.js').Progress) => void} [onProgress]
 * @returns {Promise<Calibration | null>}
 */
export async function calibrate(gpu, cpu, model, onProgress) {
  /** @type {{kind: string, description: string}} */
  const a = await gpu.call('probeAdapter', {});
  if (a.kind === 'missing' || (a.kind === 'software' && !calibrateSoftware())) return null;
  const say = (/** @type {string} */ stage, /** @type {number} */ fraction) => { if (onProgress) onProgress({ stage, fraction }); };
  say('choosing the device: loading the model on WebGPU and on the CPU', 0.1);
  const [g] = await Promise.all([gpu.load(model, 'webgpu'), cpu.load(model, 'cpu')]);
  const [width, height] = [g.info.native_width, g.info.native_height];
  const size = { width, height };
  say(`choosing the device: one forward pass at ${width}×${height} on the CPU`, 0.3);
  await cpu.call('forwardSeconds', size);
  const cpuS = await cpu.call('forwardSeconds', size);
  say(`choosing the device: one forward pass at ${width}×${height} on WebGPU`, 0.5);
  const firstS = await gpu.call('forwardSeconds', size);
  const gpuS = firstS > HOPELESS * cpuS ? firstS : await gpu.call('forwardSeconds', size);
  const backend = gpuS < cpuS ? 'webgpu' : 'cpu';
  const ms = (/** @type {number} */ s) => `${Math.round(s * 1000)} ms`;
  const adapter = `WebGPU (${g.backend.replace(/^WebGPU:\s*/, '').replace(/ \(software\)$/, ', software')})`;
  const at = `one forward pass at ${width}×${height}`;
  const text = backend === 'webgpu'
    ? `auto chose WebGPU: ${at} takes ${ms(gpuS)} on ${adapter} vs ${ms(cpuS)} on the CPU.`
    : gpuS === firstS
      ? `auto chose the CPU: ${at} takes ${ms(cpuS)} on the CPU; on ${adapter} the first took ${ms(firstS)} with its kernel compilation (over ${HOPELESS}× slower: not timed again).`
      : `auto chose the CPU: ${at} takes ${ms(cpuS)} on the CPU vs ${ms(gpuS)} on ${adapter}.`;
  return { backend, text, webgpu_ms: gpuS * 1000, cpu_ms: cpuS * 1000, webgpu_first_ms: firstS * 1000, adapter, width, height };
}
