// Sequential models with Keras's methods (compile, fit, evaluate, predict, summary, save),
// each backed by its own training worker (worker.js) that runs the wasm core.

import { WorkerClient } from './client.js';
import { Layer } from './layers.js';
import { putModel, getModel } from './storage.js';
import { asTensor, labelIndices, tensor } from './tensor.js';

const LOSSES = ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'];

function openWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const client = new WorkerClient(worker);
  const info = client.request('open');
  return { worker, client, info };
}

function optimizerConfig(optimizer) {
  if (typeof optimizer === 'string') optimizer = { type: optimizer };
  const { type, learningRate, momentum, beta1, beta2, epsilon, ...rest } = optimizer;
  if (Object.keys(rest).length) throw new Error(`unknown optimizer option ${Object.keys(rest)[0]}`);
  if (!['adam', 'sgd'].includes(type)) throw new Error(`optimizer ${JSON.stringify(type)} is not supported; use 'adam' or 'sgd'`);
  const config = { type, learning_rate: learningRate, momentum, beta1, beta2, epsilon };
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}

function images(x, inputShape) {
  const t = asTensor(x, 'x');
  const shape = t.shape.slice(1);
  if (t.shape.length !== 4 || shape.join() !== inputShape.join()) {
    throw new Error(`x has shape ${JSON.stringify(t.shape)}, but the model takes [n, ${inputShape.join(', ')}]`);
  }
  return { data: Float32Array.from(t.data), count: t.shape[0], shape };
}

/** A stack of layers trained in a worker on WebGPU, or on the CPU without it. */
export class Sequential {
  /** Creates a model from `layers` (or an object {layers}); an input() marker or a first
   * layer's inputShape gives the example shape. */
  constructor(layers = []) {
    this.layers = [];
    this.inputShape = null;
    this.compiled = null;
    this.builtConfig = null;
    // Whether compile() ran since the last fit, so the next fit starts fresh optimizer state.
    this.compiledSinceFit = false;
    this.connection = null;
    for (const layer of Array.isArray(layers) ? layers : layers.layers ?? []) this.add(layer);
  }

  /** Builds a model from a webcnn JSON config ({input_shape, layers}). */
  static fromConfig(config) {
    const model = new Sequential();
    model.setLayers(config);
    return model;
  }

  /** Builds a built-in model: 'seed-cnn' (the Keras MNIST CNN) or 'lenet5', for 28x28x1. */
  static async preset(name) {
    const model = new Sequential();
    model.setLayers(await model.request('preset', { name }));
    return model;
  }

  setLayers(config) {
    this.inputShape = config.input_shape;
    this.layers = config.layers.map((layer) => Layer.fromConfig(layer));
  }

  /** Appends a layer (or sets the input shape with an input() marker). */
  add(layer) {
    if (!(layer instanceof Layer)) {
      if (layer?.inputShape && !this.layers.length) {
        this.inputShape = layer.inputShape;
        return;
      }
      throw new Error('add() takes a layer from webcnn.layers (or webcnn.input first)');
    }
    if (layer.inputShape) {
      if (this.layers.length) throw new Error('only the first layer may give an inputShape');
      this.inputShape = layer.inputShape;
    }
    this.layers.push(layer);
  }

  /** Returns the webcnn JSON model config. */
  toConfig() {
    if (!this.inputShape) throw new Error('the model has no input shape; start with webcnn.input({shape}) or give the first layer an inputShape');
    return { input_shape: this.inputShape, layers: this.layers.map((l) => l.toConfig()) };
  }

  /** Worker info: {backend: 'webgpu' | 'cpu', adapter, fallbackReason}. */
  async backend() {
    return this.worker().info;
  }

  worker() {
    this.connection ??= openWorker();
    return this.connection;
  }

  async request(type, args = {}) {
    const { client, info } = this.worker();
    await info;
    return client.request(type, args);
  }

  /** Sets the optimizer ('adam', 'sgd' or {type, learningRate, ...}), the loss
   * (sparseCategoricalCrossentropy or categoricalCrossentropy) and the metrics (accuracy). */
  compile({ optimizer = 'adam', loss, metrics = [] } = {}) {
    if (!LOSSES.includes(loss)) throw new Error(`loss ${JSON.stringify(loss)} is not supported; use ${LOSSES.join(' or ')}`);
    for (const metric of metrics) {
      if (!['accuracy', 'acc'].includes(metric)) throw new Error(`metric ${JSON.stringify(metric)} is not supported; use 'accuracy'`);
    }
    this.compiled = { optimizer: optimizerConfig(optimizer), loss };
    this.compiledSinceFit = true;
  }

  /** Prints a table like Keras's summary() (layer, output shape and parameter count per layer,
   * then the totals) through `print`, console.log by default or nothing for null. Returns the
   * table's text. */
  async summary(print = console.log) {
    const config = this.toConfig();
    const rows = await this.request('describe', { config });
    const lines = [`${'Layer (type)'.padEnd(16)}${'Output Shape'.padEnd(20)}${'Param #'.padStart(10)}`];
    let total = 0;
    let trainable = 0;
    rows.forEach((row, i) => {
      const frozen = config.layers[i].trainable === false;
      total += row.params;
      if (!frozen) trainable += row.params;
      const shape = `(None, ${row.output_shape.join(', ')})`;
      lines.push(`${(row.kind + (frozen ? ' (frozen)' : '')).padEnd(16)}${shape.padEnd(20)}${String(row.params).padStart(10)}`);
    });
    lines.push(`Total params: ${total}`, `Trainable params: ${trainable}`, `Non-trainable params: ${total - trainable}`);
    const text = lines.join('\n');
    if (print) print(text);
    return text;
  }

  /** Trains on x ({data, shape} [n, H, W, C]) and y (labels [n] or one-hot [n, classes]).
   * Options: epochs, batchSize, validationSplit, shuffle, seed, callbacks {onBatchEnd(batch,
   * logs), onEpochEnd(epoch, logs)}. onBatchEnd runs once per batch with the batch's index in
   * its epoch and its own loss and accuracy. A later fit goes on with the optimizer state
   * (Adam's moments and step count) unless compile() ran in between. Resolves with a History
   * {epoch, history}. */
  async fit(x, y, { epochs = 1, batchSize = 32, validationSplit = 0, shuffle = true, seed = 1, callbacks = {} } = {}) {
    if (!this.compiled) throw new Error('compile the model before fit');
    const config = this.toConfig();
    const input = images(x, config.input_shape);
    const labels = labelIndices(y);
    if (labels.length !== input.count) throw new Error(`x has ${input.count} examples but y has ${labels.length} labels`);
    const mode = this.buildMode(config);
    // Keras creates the optimizer in compile(), and rebuilding the model drops the kept state.
    const build = mode === 'keep' && this.compiledSinceFit ? 'config' : mode;
    const history = { epoch: [], history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] } };
    const { client } = this.worker();
    const done = new Promise((resolve, reject) => {
      const batchEnds = (batches) => {
        for (const { batch, loss, accuracy } of batches) callbacks.onBatchEnd?.(batch, { loss, accuracy });
      };
      client.on('progress', ({ batches }) => batchEnds(batches));
      client.on('epoch', ({ report, batches }) => {
        batchEnds(batches);
        const logs = { loss: report.loss, accuracy: report.accuracy };
        if (report.val_loss != null) Object.assign(logs, { val_loss: report.val_loss, val_accuracy: report.val_accuracy });
        history.epoch.push(report.epoch - 1);
        for (const [key, value] of Object.entries(logs)) history.history[key].push(value);
        callbacks.onEpochEnd?.(report.epoch - 1, logs);
      });
      client.on('finished', resolve);
      client.on('failed', ({ error }) => reject(new Error(error)));
    });
    await this.request('fit', {
      config,
      build,
      x: input.data,
      y: labels,
      shape: input.shape,
      optimizer: this.compiled.optimizer,
      train: { epochs, batch_size: batchSize, validation_split: validationSplit, seed, shuffle },
    });
    this.builtConfig = JSON.stringify(config);
    this.compiledSinceFit = false;
    await done;
    if (!history.history.val_loss.length) {
      delete history.history.val_loss;
      delete history.history.val_accuracy;
    }
    return history;
  }

  // 'new' before the first fit, 'config' when layers were frozen or unfrozen since, else 'keep'.
  buildMode(config) {
    if (!this.builtConfig) return 'new';
    const built = JSON.parse(this.builtConfig);
    const sameShape = JSON.stringify(withoutTrainable(built)) === JSON.stringify(withoutTrainable(config));
    if (!sameShape) throw new Error('the layers changed since the model was trained; only trainable may change');
    return this.builtConfig === JSON.stringify(config) ? 'keep' : 'config';
  }

  /** Returns {loss, accuracy} on x and y. */
  async evaluate(x, y) {
    this.requireWeights();
    const input = images(x, this.inputShape);
    return this.request('evaluate', { x: input.data, y: labelIndices(y), shape: input.shape });
  }

  /** Returns the model outputs {data, shape: [n, classes]} for x. */
  async predict(x) {
    this.requireWeights();
    const input = images(x, this.inputShape);
    const data = await this.request('predict', { x: input.data });
    return tensor(data, [input.count, data.length / input.count]);
  }

  requireWeights() {
    if (!this.builtConfig) throw new Error('the model has no weights yet; fit it or load one');
  }

  /** Returns the model file (webcnn safetensors) as bytes. */
  async toBytes() {
    this.requireWeights();
    await this.syncConfig();
    return this.request('save');
  }

  // Applies trainable flags changed since the last fit, so the file records them.
  async syncConfig() {
    const config = this.toConfig();
    if (this.buildMode(config) !== 'config') return;
    await this.request('reconfigure', { config });
    this.builtConfig = JSON.stringify(config);
  }

  /** Saves to 'indexeddb://NAME' or 'downloads://NAME' (a NAME.safetensors download). */
  async save(destination) {
    const bytes = await this.toBytes();
    const [scheme, name] = String(destination).split('://');
    if (scheme === 'indexeddb' && name) return putModel(name, bytes);
    if (scheme === 'downloads' && name) return download(bytes, `${name}.safetensors`);
    throw new Error(`save destination ${JSON.stringify(destination)} is not supported; use indexeddb://NAME or downloads://NAME`);
  }

  /** Stops the worker; the model cannot be used afterwards. */
  dispose() {
    this.connection?.worker.terminate();
    this.connection = null;
  }
}

function withoutTrainable(config) {
  return { ...config, layers: config.layers.map(({ trainable, ...rest }) => rest) };
}

function download(bytes, filename) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Creates a Sequential model, as keras.Sequential. */
export function sequential(layers = []) {
  return new Sequential(layers);
}

/** Loads a model from 'indexeddb://NAME', a URL of a webcnn .safetensors file or of a Keras
 * model saved for TensorFlow.js (tfjs-layers model.json with its weight files beside it), a
 * File or Blob, or bytes. Resolves with a Sequential ready to predict, evaluate or fit. */
export async function loadModel(source) {
  const model = new Sequential();
  let result;
  if (typeof source === 'string' && source.startsWith('indexeddb://')) {
    const name = source.slice('indexeddb://'.length);
    result = await model.request('load', { bytes: await getModel(name), name });
  } else if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(source, globalThis.document?.baseURI ?? globalThis.location.href).href;
    result = await model.request('loadUrl', { url });
  } else if (source instanceof Blob) {
    const bytes = new Uint8Array(await source.arrayBuffer());
    result = await model.request('load', { bytes, name: source.name ?? 'the file' });
  } else if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) {
    result = await model.request('load', { bytes: new Uint8Array(source.buffer ?? source), name: 'the bytes' });
  } else {
    throw new Error('loadModel takes indexeddb://NAME, a URL, a File or Blob, or bytes');
  }
  model.setLayers(result.config);
  model.builtConfig = JSON.stringify(model.toConfig());
  return model;
}
