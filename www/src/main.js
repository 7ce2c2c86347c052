// Trainer page: collects the settings, sends requests to the training worker and draws what it
// reports. Nothing here touches WebGPU or runs a model, so the page stays responsive.

import { WorkerClient } from '../../js/src/client.js';
import { Curves } from './charts.js';
import { LayerEditor } from './editor.js';
import { DrawPad } from '../../js/src/pad.js';
import { showInspection } from './inspect.js';
import { galleryIndices, showAccuracy, showConfusion, showGallery, showPerClass } from './results.js';
import * as store from './store.js';

// Defaults of the training form: 3 epochs on the 6,300 digits left after the validation split.
// With seed-cnn and seed 1 they reach 97.5 % test accuracy on the CPU path, and 2 epochs reach
// 96.9 %. The learning rate is above Keras's 0.001 because each epoch is slow on SwiftShader.
// Brightness 0 turns the random brightness gain off.
const DEFAULTS = { epochs: 3, batchSize: 32, learningRate: 0.003, optimizer: 'adam', brightness: 0 };
const VALIDATION_SPLIT = 0.1;
// The CLI's rule: an epoch whose loss is over DIVERGING times that of a uniform guess over the
// 10 digits (ln 10) is diverging, and the epoch log shows a warning.
const DIVERGING = 4;
const UNIFORM_GUESS_LOSS = Math.log(10);
const SEED = 1;
// Ranges of the augmentation toggles, as written in their labels in index.html.
const AUGMENT = { rotation_degrees: 15, translation_pixels: 2, scale: 0.1 };

const $ = (selector) => document.querySelector(selector);
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

const elements = {
  backend: byTestId('backend'),
  notice: byTestId('notice'),
  error: byTestId('error'),
  dataStatus: byTestId('data-status'),
  preset: $('#preset'),
  modelError: byTestId('model-error'),
  modelTotal: $('#model-total'),
  epochs: $('#epochs'),
  batchSize: $('#batch-size'),
  learningRate: $('#learning-rate'),
  optimizer: $('#optimizer'),
  continueTraining: $('#continue'),
  augmentRotation: $('#augment-rotation'),
  augmentTranslation: $('#augment-translation'),
  augmentScaling: $('#augment-scaling'),
  augmentFlip: $('#augment-flip'),
  augmentBrightness: $('#augment-brightness'),
  train: $('#train'),
  pause: $('#pause'),
  resume: $('#resume'),
  stop: $('#stop'),
  progress: $('#progress'),
  progressText: byTestId('progress-text'),
  epochLog: byTestId('epoch-log'),
  runs: byTestId('runs'),
  testAccuracy: $('#test-accuracy'),
  testDetail: $('#test-detail'),
  perClass: byTestId('per-class'),
  confusion: byTestId('confusion'),
  gallery: byTestId('misclassified'),
  missCount: $('#miss-count'),
  top3: byTestId('top3'),
  inspect: byTestId('inspect'),
  inspectIndex: $('#inspect-index'),
  modelName: $('#model-name'),
  savedModels: byTestId('saved-models'),
};

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const client = new WorkerClient(worker);
// The browser tests call the worker through this handle.
window.webcnnClient = client;
const curves = new Curves($('#loss-chart'), $('#accuracy-chart'));
const editor = new LayerEditor($('#layer-rows'), document.querySelectorAll('[data-add]'), checkModel);

const state = {
  ready: false,
  phase: 'idle', // idle | training | paused
  hasModel: false,
  imageShape: [28, 28],
  run: null,
  runs: [],
  lastAccuracy: null,
  chartFrame: false,
  predicting: false,
  pendingDigit: null,
  // The chosen preset's layer list as JSON, to tell an edited list from it.
  presetConfig: null,
  // Source of the current model, for default names: a preset, "custom" or a loaded model's name.
  modelSource: null,
};

// `n` and `noun`, with an "s" unless `n` is 1.
function counted(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

// Formats a loss with 4 decimals, or in exponent form from 10,000 on, as the CLI does.
function lossText(loss) {
  return Math.abs(loss) >= 1e4 ? loss.toExponential(3) : loss.toFixed(4);
}

// ----- messages -----

function showError(message) {
  elements.error.querySelector('.error-text').textContent = message;
  elements.error.hidden = false;
}

function clearError() {
  elements.error.hidden = true;
}

elements.error.querySelector('.error-close').addEventListener('click', clearError);

// Runs `task`. A failure is shown on the page and logged as a warning instead of thrown.
async function guarded(task) {
  try {
    return await task();
  } catch (error) {
    console.warn(`webcnn: ${error.message}`);
    showError(error.message);
    return undefined;
  }
}

// ----- buttons -----

function setPhase(phase) {
  state.phase = phase;
  const idle = phase === 'idle';
  elements.train.disabled = !state.ready || !idle;
  elements.pause.disabled = phase !== 'training';
  elements.resume.disabled = phase !== 'paused';
  elements.stop.disabled = idle;
  elements.continueTraining.disabled = !idle || !state.hasModel;
  byTestId('load-file').disabled = !idle;
}

// ----- model editor -----

async function checkModel(config) {
  try {
    const rows = await client.request('describe', { config });
    editor.showShapes(rows);
    elements.modelError.hidden = true;
    const total = rows.reduce((sum, row) => sum + row.params, 0);
    elements.modelTotal.textContent = `${total.toLocaleString('en')} parameters`;
    return true;
  } catch (error) {
    editor.showShapes(null);
    elements.modelError.textContent = error.message;
    elements.modelError.hidden = false;
    elements.modelTotal.textContent = '';
    return false;
  }
}

async function loadPreset(name) {
  const config = await client.request('preset', { name });
  editor.setConfig(config);
  state.presetConfig = JSON.stringify(editor.getConfig());
  await checkModel(config);
}

elements.preset.addEventListener('change', () => guarded(() => loadPreset(elements.preset.value)));

// ----- training -----

function readInteger(input, name, min) {
  const value = Number(input.value);
  if (input.value.trim() === '' || !Number.isInteger(value)) {
    throw new Error(`${name} must be a whole number, got "${input.value}"`);
  }
  if (value < min) throw new Error(`${name} must be at least ${min}, got ${value}`);
  return value;
}

function readNumber(input, name) {
  const value = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(value)) {
    throw new Error(`${name} must be a number, got "${input.value}"`);
  }
  return value;
}

function readSettings() {
  const epochs = readInteger(elements.epochs, 'epochs', 1);
  const batchSize = readInteger(elements.batchSize, 'batch size', 1);
  const learningRate = readNumber(elements.learningRate, 'learning rate');
  const continuing = elements.continueTraining.checked && state.hasModel;
  const augment = {
    rotation_degrees: elements.augmentRotation.checked ? AUGMENT.rotation_degrees : 0,
    translation_pixels: elements.augmentTranslation.checked ? AUGMENT.translation_pixels : 0,
    scale: elements.augmentScaling.checked ? AUGMENT.scale : 0,
    flip: elements.augmentFlip.checked,
    // Trainer.start in the worker rejects a value outside 0 to 1 with a message naming it.
    brightness: readNumber(elements.augmentBrightness, 'brightness'),
  };
  return {
    augment,
    model: continuing ? null : editor.getConfig(),
    optimizer: { type: elements.optimizer.value, learning_rate: learningRate },
    train: {
      epochs,
      batch_size: batchSize,
      validation_split: VALIDATION_SPLIT,
      seed: SEED,
      shuffle: true,
    },
  };
}

// The preset's name if `config` is its layer list unchanged, else "custom".
function configName(config) {
  return JSON.stringify(config) === state.presetConfig ? elements.preset.value : 'custom';
}

function newRun(settings, info) {
  const id = Math.max(0, ...state.runs.map((r) => r.id)) + 1;
  const name = settings.model ? configName(settings.model) : 'continued';
  return {
    id,
    label: `run ${id} (${name}, ${settings.optimizer.type} ${settings.optimizer.learning_rate}, batch ${settings.train.batch_size})`,
    started: new Date().toISOString(),
    settings,
    stepsPerEpoch: info.steps_per_epoch,
    epochs: [],
    testAccuracy: null,
    // Wall-clock throughput, excluding pauses.
    activeSeconds: 0,
    resumedAt: performance.now(),
  };
}

async function train() {
  clearError();
  let settings;
  try {
    settings = readSettings();
  } catch (error) {
    showError(error.message);
    return;
  }
  if (settings.model && !(await checkModel(settings.model))) {
    showError(`the layer list is invalid: ${elements.modelError.textContent}`);
    return;
  }
  elements.train.disabled = true;
  const info = await guarded(() => client.request('train', { settings }));
  if (!info) {
    setPhase('idle');
    return;
  }
  state.hasModel = true;
  if (settings.model) state.modelSource = configName(settings.model);
  clearAccuracy();
  state.run = newRun(settings, info);
  state.runs.push(state.run);
  curves.reset(settings.train.epochs);
  elements.epochLog.replaceChildren();
  elements.progress.value = 0;
  elements.progressText.textContent = `Epoch 1 of ${settings.train.epochs}: starting…`;
  setPhase('training');
  renderRuns();
}

function activeSeconds(run) {
  const running = state.phase === 'training' ? (performance.now() - run.resumedAt) / 1000 : 0;
  return run.activeSeconds + running;
}

function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return '…';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function showProgress(epoch, step) {
  const run = state.run;
  const { epochs, batch_size: batch } = run.settings.train;
  const steps = run.stepsPerEpoch;
  const done = (epoch - 1) * steps + step;
  const total = epochs * steps;
  const seconds = activeSeconds(run);
  const examplesPerSecond = (done * batch) / Math.max(seconds, 1e-3);
  const eta = ((total - done) * batch) / examplesPerSecond;
  elements.progress.value = done / total;
  // A report from a run call in flight when Pause arrived keeps the paused mark.
  const paused = state.phase === 'paused' ? ' · paused' : '';
  elements.progressText.textContent =
    `Epoch ${epoch} of ${epochs}, step ${step} of ${steps} · ` +
    `${examplesPerSecond.toFixed(0)} examples/s · ETA ${formatDuration(eta)}${paused}`;
  elements.progressText.dataset.examplesPerSecond = examplesPerSecond.toFixed(1);
}

function scheduleChartDraw() {
  if (state.chartFrame) return;
  state.chartFrame = true;
  requestAnimationFrame(() => {
    state.chartFrame = false;
    curves.draw();
  });
}

client.on('progress', ({ progress }) => {
  if (!state.run) return;
  showProgress(progress.epoch, progress.step);
  curves.addTraining(progress.epoch - 1 + progress.step / progress.steps, progress.loss, progress.accuracy);
  scheduleChartDraw();
});

client.on('epoch', ({ report }) => {
  const run = state.run;
  if (!run) return;
  run.epochs.push(report);
  showProgress(report.epoch, run.stepsPerEpoch);
  curves.addTraining(report.epoch, report.loss, report.accuracy);
  if (report.val_loss != null) curves.addValidation(report.epoch, report.val_loss, report.val_accuracy);
  scheduleChartDraw();

  const item = document.createElement('li');
  item.dataset.buffersCount = String(report.buffers.count);
  item.dataset.buffersBytes = String(report.buffers.bytes);
  const validation = report.val_accuracy != null
    ? `, validation loss ${lossText(report.val_loss)}, accuracy ${(report.val_accuracy * 100).toFixed(2)} %`
    : '';
  const buffers = state.backendName === 'webgpu'
    ? ` · GPU buffers ${report.buffers.count} (${(report.buffers.bytes / 2 ** 20).toFixed(1)} MiB)`
    : '';
  item.textContent =
    `epoch ${report.epoch}: loss ${lossText(report.loss)}, accuracy ${(report.accuracy * 100).toFixed(2)} %` +
    `${validation} · ${report.seconds.toFixed(1)} s${buffers}`;
  elements.epochLog.append(item);
  if (report.loss > DIVERGING * UNIFORM_GUESS_LOSS) {
    const warning = document.createElement('li');
    warning.className = 'diverging';
    warning.dataset.testid = 'diverging';
    warning.textContent =
      `Warning: the loss ${lossText(report.loss)} is over ${DIVERGING} times ${UNIFORM_GUESS_LOSS.toFixed(2)}, ` +
      'the loss of a uniform guess, so training is diverging. Stop it and lower the learning rate.';
    elements.epochLog.append(warning);
  }
  guarded(() => store.saveRun(storedRun(run)));
});

function endRun(message) {
  const run = state.run;
  if (run && state.phase === 'training') run.activeSeconds = activeSeconds(run);
  elements.progressText.textContent = message;
  setPhase('idle');
}

client.on('finished', async () => {
  const run = state.run;
  elements.progress.value = 1;
  const seconds = activeSeconds(run);
  const done = `Done: ${counted(run.epochs.length, 'epoch')} in ${formatDuration(seconds)}.`;
  endRun(`${done} Evaluating on the test digits…`);
  await evaluate();
  elements.progressText.textContent = done;
});

client.on('failed', async ({ error }) => {
  showError(`Training stopped: ${error}. The model keeps the weights it had.`);
  endRun('Stopped by an error.');
  await evaluate();
});

client.on('crashed', ({ error }) => {
  showError(`The training worker failed: ${error}. Reload the page to start again.`);
  state.ready = false;
  setPhase('idle');
});

async function pause() {
  await guarded(() => client.request('pause'));
  state.run.activeSeconds = activeSeconds(state.run);
  setPhase('paused');
  elements.progressText.textContent += ' · paused';
}

async function resume() {
  state.run.resumedAt = performance.now();
  setPhase('training');
  await guarded(() => client.request('resume'));
}

async function stop() {
  if (state.phase === 'training') state.run.activeSeconds = activeSeconds(state.run);
  await guarded(() => client.request('stop'));
  endRun(`Stopped after ${counted(state.run.epochs.length, 'full epoch')}.`);
  await evaluate();
}

elements.train.addEventListener('click', train);
elements.pause.addEventListener('click', pause);
elements.resume.addEventListener('click', resume);
elements.stop.addEventListener('click', stop);

// ----- results -----

// The shown results belong to the model before this run; the accuracy returns after it.
function clearAccuracy() {
  elements.testAccuracy.textContent = '–';
  delete elements.testAccuracy.dataset.value;
  elements.testDetail.textContent = '';
}

async function evaluate() {
  const evaluation = await guarded(() => client.request('evaluate'));
  if (!evaluation) return;
  showAccuracy(elements.testAccuracy, elements.testDetail, evaluation);
  showPerClass(elements.perClass, evaluation.per_class);
  showConfusion(elements.confusion, evaluation.confusion);
  const indices = galleryIndices(evaluation.misclassified);
  const images = await guarded(() => client.request('testImages', { indices }));
  if (images) showGallery(elements.gallery, elements.missCount, evaluation.misclassified, images, state.imageShape);
  state.lastAccuracy = evaluation.accuracy;
  if (state.run && state.run.testAccuracy == null) {
    state.run.testAccuracy = evaluation.accuracy;
    await guarded(() => store.saveRun(storedRun(state.run)));
    renderRuns();
  }
}

// ----- runs -----

function storedRun(run) {
  const { id, label, started, settings, epochs, testAccuracy } = run;
  return { id, label, started, settings, epochs, testAccuracy };
}

function renderRuns() {
  const items = [...state.runs].reverse().map((run) => {
    const item = document.createElement('li');
    const current = run === state.run;
    const accuracy = run.testAccuracy != null ? `, test ${(run.testAccuracy * 100).toFixed(2)} %` : '';
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.disabled = current;
    box.checked = Boolean(run.overlaid);
    box.addEventListener('change', () => {
      run.overlaid = box.checked;
      curves.setOverlay(run, box.checked);
    });
    label.append(box, ` ${run.label}: ${counted(run.epochs.length, 'epoch')}${accuracy}${current ? ' (current)' : ''}`);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'delete';
    remove.disabled = current;
    remove.addEventListener('click', async () => {
      curves.setOverlay(run, false);
      state.runs = state.runs.filter((r) => r !== run);
      await guarded(() => store.deleteRun(run.id));
      renderRuns();
    });
    item.append(label, remove);
    return item;
  });
  elements.runs.replaceChildren(...items);
}

// ----- draw pad -----

async function predictDigit(pixels) {
  if (!state.hasModel) {
    elements.top3.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'Train or load a model first.' }));
    return;
  }
  // One prediction at a time; strokes that arrive meanwhile replace the waiting digit.
  if (state.predicting) {
    state.pendingDigit = pixels;
    return;
  }
  state.predicting = true;
  try {
    const probabilities = await client.request('predict', { pixels });
    const top = [...probabilities].map((p, digit) => ({ digit, p })).sort((a, b) => b.p - a.p).slice(0, 3);
    elements.top3.replaceChildren(
      ...top.map(({ digit, p }) => {
        const item = document.createElement('li');
        item.innerHTML = `<b>${digit}</b> <meter min="0" max="1"></meter> ${(p * 100).toFixed(1)} %`;
        item.querySelector('meter').value = p;
        return item;
      }),
    );
  } catch (error) {
    showError(error.message);
  } finally {
    state.predicting = false;
  }
  if (state.pendingDigit) {
    const next = state.pendingDigit;
    state.pendingDigit = null;
    predictDigit(next);
  }
}

const pad = new DrawPad($('#pad'), predictDigit);
$('#clear-pad').addEventListener('click', () => {
  pad.clear();
  elements.top3.replaceChildren();
});

// ----- filters and activations -----

byTestId('inspect-button').addEventListener('click', () =>
  guarded(async () => {
    const index = readInteger(elements.inspectIndex, 'test image', 0);
    const view = await client.request('inspect', { index });
    showInspection(elements.inspect, view, state.imageShape);
  }),
);

// ----- saved models -----

async function renderSavedModels() {
  const models = (await guarded(() => store.listModels())) ?? [];
  const items = models.map((model) => {
    const item = document.createElement('li');
    const accuracy = model.accuracy != null ? `, test ${(model.accuracy * 100).toFixed(2)} %` : '';
    item.append(`${model.name} (${new Date(model.saved).toLocaleString()}${accuracy}) `);
    const load = document.createElement('button');
    load.type = 'button';
    load.textContent = 'load';
    load.addEventListener('click', () => loadModel(model.bytes, model.name));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'delete';
    remove.addEventListener('click', async () => {
      await guarded(() => store.deleteModel(model.name));
      renderSavedModels();
    });
    item.append(load, ' ', remove);
    return item;
  });
  elements.savedModels.replaceChildren(...items);
}

function modelName() {
  const source = state.modelSource ?? elements.preset.value;
  return elements.modelName.value.trim() || `${source} ${new Date().toISOString().slice(0, 19)}`;
}

async function loadModel(bytes, name) {
  clearError();
  if (state.phase !== 'idle') {
    showError('Stop training before loading a model.');
    return;
  }
  const copy = new Uint8Array(bytes);
  const loaded = await guarded(() => client.request('load', { bytes: copy, name }, [copy.buffer]));
  if (!loaded) return;
  state.hasModel = true;
  state.modelSource = name.replace(/\.safetensors$/, '');
  editor.setConfig(loaded.config);
  await checkModel(loaded.config);
  elements.continueTraining.checked = true;
  setPhase('idle');
  elements.progressText.textContent = `Loaded ${name}.`;
  state.run = null;
  await evaluate();
}

byTestId('save-db').addEventListener('click', () =>
  guarded(async () => {
    const bytes = await client.request('save');
    const name = modelName();
    await store.saveModel(name, bytes, state.lastAccuracy);
    await renderSavedModels();
  }),
);

byTestId('download').addEventListener('click', () =>
  guarded(async () => {
    const bytes = await client.request('save');
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${modelName().replace(/[^\w.-]+/g, '-')}.safetensors`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }),
);

byTestId('load-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (file) await loadModel(await file.arrayBuffer(), file.name);
});

// ----- start -----

function fillDefaults() {
  elements.epochs.value = String(DEFAULTS.epochs);
  elements.batchSize.value = String(DEFAULTS.batchSize);
  elements.learningRate.value = String(DEFAULTS.learningRate);
  elements.optimizer.value = DEFAULTS.optimizer;
  elements.augmentBrightness.value = String(DEFAULTS.brightness);
}

function showBackend(info) {
  state.backendName = info.backend;
  state.imageShape = info.data.shape.slice(0, 2);
  if (info.backend === 'webgpu') {
    elements.backend.textContent = `Training on WebGPU: ${info.adapter}`;
  } else {
    elements.backend.textContent = 'Training on the CPU (WebAssembly)';
    elements.notice.textContent =
      `WebGPU is not available here (${info.fallbackReason}), so this page trains on the CPU ` +
      'instead. That works, but it is much slower than on a GPU.';
    elements.notice.hidden = false;
  }
  elements.dataStatus.textContent =
    `${(info.data.train + info.data.test).toLocaleString('en')} MNIST digits: ` +
    `${info.data.train.toLocaleString('en')} to train on (${VALIDATION_SPLIT * 100} % of them for validation), ` +
    `${info.data.test.toLocaleString('en')} held out for the test.`;
}

async function start() {
  fillDefaults();
  setPhase('idle');
  const info = await guarded(() => client.request('start'));
  if (!info) {
    elements.backend.textContent = 'The training worker could not start.';
    return;
  }
  showBackend(info);

  await guarded(() => loadPreset(elements.preset.value));
  state.runs = ((await guarded(() => store.listRuns())) ?? []).sort((a, b) => a.id - b.id);
  renderRuns();
  await renderSavedModels();

  state.ready = true;
  document.body.dataset.ready = 'true';
  setPhase('idle');
}

start();
