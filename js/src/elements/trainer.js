// <webcnn-trainer>: trains a preset model on an IDX dataset inside a shadow root, showing
// progress and the loss and accuracy curves.
//
// Attributes: dataset (URL prefix of an IDX pair: PREFIX-images-idx3-ubyte.gz and
// PREFIX-labels-idx1-ubyte.gz), preset (seed-cnn or lenet5; default seed-cnn), epochs
// (default 3), batch-size (32), learning-rate (0.001), limit (train on at most this many
// digits), autostart (train on connect). Events: 'epochend' (detail {epoch, logs}), 'done'
// (detail {history, loss, accuracy}; the model is then in the `model` property) and 'error'
// (detail {message}).

import { Sequential } from '../model.js';
import { loadIdx, shuffledIndices, take } from '../datasets.js';
import { plotLines } from './plot.js';
import { BASE } from './style.js';

// Fraction of the digits held out for the test, as the command line and the trainer page do.
const TEST_FRACTION = 0.3;
const VALIDATION_SPLIT = 0.1;

export class WebcnnTrainer extends HTMLElement {
  constructor() {
    super();
    this.model = null;
    this.running = false;
  }

  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [BASE];
    root.innerHTML = `
      <div part="header"><strong>webcnn trainer</strong> <span class="backend"></span></div>
      <p><button type="button" part="train">Train</button></p>
      <progress max="1" value="0"></progress>
      <p class="status" role="status"></p>
      <canvas class="plot loss" width="400" height="140"></canvas>
      <canvas class="plot accuracy" width="400" height="140"></canvas>`;
    this.button = root.querySelector('button');
    this.button.addEventListener('click', () => this.train());
    if (this.hasAttribute('autostart')) this.train();
  }

  number(name, fallback) {
    const value = this.getAttribute(name);
    if (value === null) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`attribute ${name}="${value}" must be a positive number`);
    return parsed;
  }

  status(text, isError = false) {
    const line = this.shadowRoot.querySelector('.status');
    line.textContent = text;
    line.classList.toggle('error', isError);
  }

  /** Loads the dataset, trains the preset and evaluates it; resolves when done. */
  async train() {
    if (this.running) return;
    this.running = true;
    this.button.disabled = true;
    try {
      await this.run();
    } catch (error) {
      this.status(error.message, true);
      this.dispatchEvent(new CustomEvent('error', { detail: { message: error.message } }));
    } finally {
      this.running = false;
      this.button.disabled = false;
    }
  }

  async run() {
    const epochs = this.number('epochs', 3);
    const batchSize = this.number('batch-size', 32);
    const learningRate = this.number('learning-rate', 0.001);
    const prefix = this.getAttribute('dataset');
    if (!prefix) throw new Error('set the dataset attribute to the URL prefix of an IDX pair (PREFIX-images-idx3-ubyte.gz)');
    this.status('Loading the data…');
    const data = await loadIdx(`${prefix}-images-idx3-ubyte.gz`, `${prefix}-labels-idx1-ubyte.gz`);
    const order = shuffledIndices(data.y.data.length);
    const testCount = Math.round(order.length * TEST_FRACTION);
    const trainCount = Math.min(order.length - testCount, this.number('limit', Infinity));
    const test = take(data, order.slice(0, testCount));
    const train = take(data, order.slice(testCount, testCount + trainCount));

    this.model?.dispose();
    this.model = await Sequential.preset(this.getAttribute('preset') ?? 'seed-cnn');
    const backend = await this.model.backend();
    this.shadowRoot.querySelector('.backend').textContent = `on ${backend.backend}`;
    this.model.compile({ optimizer: { type: 'adam', learningRate }, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const history = await this.model.fit(train.x, train.y, {
      epochs,
      batchSize,
      validationSplit: VALIDATION_SPLIT,
      callbacks: this.callbacks(epochs, Math.ceil((trainCount * (1 - VALIDATION_SPLIT)) / batchSize)),
    });
    this.status('Evaluating on the test digits…');
    const { loss, accuracy } = await this.model.evaluate(test.x, test.y);
    this.status(`Test accuracy ${(accuracy * 100).toFixed(1)} % on ${testCount} digits`);
    this.dispatchEvent(new CustomEvent('done', { detail: { history, loss, accuracy } }));
  }

  callbacks(epochs, stepsPerEpoch) {
    const progress = this.shadowRoot.querySelector('progress');
    const curves = { loss: [], val_loss: [], accuracy: [], val_accuracy: [] };
    let epoch = 0;
    return {
      onBatchEnd: (batch, logs) => {
        progress.value = Math.min(1, (epoch * stepsPerEpoch + batch + 1) / (epochs * stepsPerEpoch));
        this.status(`Epoch ${epoch + 1}/${epochs}, step ${batch + 1}/${stepsPerEpoch}: loss ${logs.loss.toFixed(3)}, accuracy ${logs.accuracy.toFixed(3)}`);
      },
      onEpochEnd: (index, logs) => {
        epoch = index + 1;
        progress.value = epoch / epochs;
        for (const key of Object.keys(curves)) curves[key].push(logs[key] ?? 0);
        const plot = (selector, keys) => plotLines(
          this.shadowRoot.querySelector(selector),
          keys.map((key) => ({ label: key, values: curves[key] })),
          epochs,
        );
        plot('.loss', ['loss', 'val_loss']);
        plot('.accuracy', ['accuracy', 'val_accuracy']);
        this.dispatchEvent(new CustomEvent('epochend', { detail: { epoch: index, logs } }));
      },
    };
  }
}
