// Worker of the npm package: one per model. It owns the wasm Trainer (WebGPU or CPU) and
// handles the requests of model.js; the engine and training loop are shared with the trainer
// page (engine.js).

import { TrainerDriver, fetchBytes, fetchIdx, openTrainer, requestAdapter, serve } from './engine.js';

let trainer = null;
let driver = null;

// The wasm core of each backend, a module of its own, so that a browser downloads only the one
// it trains on. The import paths are literal so that bundlers find both modules.
const CORE_IMPORTS = {
  webgpu: () => import('../pkg/webcnn.js'),
  cpu: () => import('../pkg/cpu/webcnn.js'),
};
// The loaded wasm modules by name: 'webgpu', 'cpu' and 'tfjs'.
const modules = {};
// The core of the open trainer, or before `open` the core this browser would train on.
let core = null;

// Loads and initialises the wasm module that `importModule` imports, once per `name`. A failed
// load is not kept, so a later call in this worker tries again.
function loadModule(name, importModule) {
  modules[name] ??= importModule()
    .then(async (module) => {
      await module.default();
      return module;
    })
    .catch((error) => {
      delete modules[name];
      throw error;
    });
  return modules[name];
}

// Loads and initialises the core of `backend` once.
function loadCore(backend) {
  return loadModule(backend, CORE_IMPORTS[backend]);
}

// Returns the core for requests that need no trainer: the one `open` chose, or else the one it
// would choose, the WebGPU core where the browser has an adapter.
async function currentCore() {
  if (!core) {
    const { problem } = await requestAdapter();
    const loaded = await loadCore(problem ? 'cpu' : 'webgpu');
    // `open` may have chosen a core while this one loaded.
    core ??= loaded;
  }
  return core;
}

async function classesOf(config) {
  const rows = (await currentCore()).describeModel(config);
  return rows[rows.length - 1].output_shape[0];
}

// Loads the wasm module of the Keras and tfjs import. It is separate from the core, so only the
// models that import a model.json download it.
function loadTfjsImport() {
  return loadModule('tfjs', () => import('../pkg/tfjs/webcnn.js'));
}

// Fetches a tfjs-layers model.json and its weight files and converts them to a webcnn file.
async function fetchTfjs(url) {
  const { importTfjs, tfjsWeightPaths } = await loadTfjsImport();
  const text = new TextDecoder().decode(await fetchBytes(url));
  const paths = tfjsWeightPaths(text, url);
  const shards = await Promise.all(paths.map((path) => fetchBytes(new URL(path, url).href)));
  return importTfjs(text, url, shards);
}

serve({
  async open() {
    const engine = await openTrainer(loadCore);
    core = engine.core;
    trainer = engine.trainer;
    driver = new TrainerDriver(trainer);
    const { backend, adapter, fallbackReason } = engine;
    return { backend, adapter, fallbackReason };
  },
  async preset({ name }) {
    return (await currentCore()).presetConfig(name);
  },
  async describe({ config }) {
    return (await currentCore()).describeModel(config);
  },
  // Trains with x, y as the data; `build` is 'new' (fresh weights from the config), 'config'
  // (keep the weights, rebuild with the config's trainable flags and fresh optimizer state) or
  // 'keep' (keep the weights and, for the same optimizer config, the optimizer state).
  async fit({ config, build, x, y, shape, optimizer, train }) {
    const classes = await classesOf(config);
    await driver.exclusive(async () => {
      trainer.setTrainingData(x, y, shape, classes);
      if (build === 'config') await trainer.setConfig(config);
    });
    return driver.train({ model: build === 'new' ? config : null, optimizer, train });
  },
  async reconfigure({ config }) {
    return driver.exclusive(() => trainer.setConfig(config));
  },
  async evaluate({ x, y, shape }) {
    const result = await driver.exclusive(() => trainer.evaluateOn(x, y, shape));
    return { loss: result.loss, accuracy: result.accuracy };
  },
  async predict({ x }) {
    return driver.exclusive(() => trainer.predict(x));
  },
  async stop() {
    await driver.stop();
    return null;
  },
  async save() {
    return driver.exclusive(() => trainer.save());
  },
  async load({ bytes, name }) {
    return driver.exclusive(() => trainer.load(bytes, name));
  },
  async loadUrl({ url }) {
    const bytes = url.split(/[?#]/)[0].endsWith('.json') ? await fetchTfjs(url) : await fetchBytes(url);
    return driver.exclusive(() => trainer.load(bytes, url));
  },
  async parseIdx({ imagesUrl, labelsUrl }) {
    const wasm = await currentCore();
    const [images, labels] = await Promise.all([fetchIdx(imagesUrl), fetchIdx(labelsUrl)]);
    return wasm.parseIdx(images, labels);
  },
});
