// Worker of the npm package: one per model. It owns the wasm Trainer (WebGPU or CPU) and
// handles the requests of model.js; the engine and training loop are shared with the trainer
// page (engine.js).

import init, { Trainer, describeModel, parseIdx, presetConfig } from '../pkg/webcnn.js';
import { TrainerDriver, fetchBytes, fetchIdx, openTrainer, serve } from './engine.js';

let trainer = null;
let driver = null;

function classesOf(config) {
  const rows = describeModel(config);
  return rows[rows.length - 1].output_shape[0];
}

let tfjsImport = null;

// Loads the wasm module of the Keras and tfjs import once. It is separate from the core, so
// only the models that import a model.json download it.
function loadTfjsImport() {
  tfjsImport ??= import('../pkg/tfjs/webcnn.js')
    .then(async (module) => {
      await module.default();
      return module;
    })
    .catch((error) => {
      // A failed download is tried again on the next import.
      tfjsImport = null;
      throw error;
    });
  return tfjsImport;
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
    await init();
    const engine = await openTrainer(Trainer);
    trainer = engine.trainer;
    driver = new TrainerDriver(trainer);
    const { backend, adapter, fallbackReason } = engine;
    return { backend, adapter, fallbackReason };
  },
  async preset({ name }) {
    return presetConfig(name);
  },
  async describe({ config }) {
    return describeModel(config);
  },
  // Trains with x, y as the data; `build` is 'new' (fresh weights from the config), 'config'
  // (keep the weights, rebuild with the config's trainable flags and fresh optimizer state) or
  // 'keep' (keep the weights and, for the same optimizer config, the optimizer state).
  async fit({ config, build, x, y, shape, optimizer, train }) {
    await driver.exclusive(async () => {
      trainer.setTrainingData(x, y, shape, classesOf(config));
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
    await init();
    const [images, labels] = await Promise.all([fetchIdx(imagesUrl), fetchIdx(labelsUrl)]);
    return parseIdx(images, labels);
  },
});
