// The benchmark page: run.mjs opens it once per system and calls window.runSystem, which loads
// only that system's code, trains, and resolves to its measurements.

import { measureSteps } from './measure.js';

/** The systems the page can run, by the key they have in docs/benchmarks.json. */
const SYSTEMS = {
  webcnn: async (options) => {
    const { runWebcnn } = await import('./systems/webcnn.js');
    return runWebcnn(options);
  },
  'webcnn-cpu': async (options) => {
    const { runWebcnnCpu } = await import('./systems/webcnn-cpu.js');
    return runWebcnnCpu(options);
  },
  'tfjs-webgpu': (options) => runTfjs('webgpu', options),
  'tfjs-webgl': (options) => runTfjs('webgl', options),
  'tfjs-cpu': (options) => runTfjs('cpu', options),
  'tfjs-wasm': (options) => runTfjs('wasm', options),
  convnetjs: async (options) => {
    const { convnetjsTrainer } = await import('./systems/convnetjs.js');
    const { step } = await convnetjsTrainer(options);
    return measureSteps(step, options);
  },
};

async function runTfjs(backend, options) {
  const { tfjsTrainer } = await import('./systems/tfjs.js');
  const { step, memory, version } = await tfjsTrainer(backend, options);
  const result = await measureSteps(step, options);
  return { ...result, ...memory(), version };
}

/** Describes the page's WebGPU adapter: `{vendor, architecture, device, description}` or null. */
async function adapterInfo() {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return null;
  const { vendor, architecture, device, description } = adapter.info;
  return { vendor, architecture, device, description };
}

/**
 * Runs one system with `options` and resolves to `{result, adapter}`.
 * @param {string} name a key of SYSTEMS
 * @param {object} options
 */
window.runSystem = async (name, options) => {
  const run = SYSTEMS[name];
  if (!run) throw new Error(`unknown system ${name}; choose one of ${Object.keys(SYSTEMS)}`);
  return { result: await run(options), adapter: await adapterInfo() };
};
window.pageReady = true;
