// Training panel: trains the recogniser on the enrolled crops in the face worker, with
// augmentation, progress and curves, per-layer freeze toggles, and fine-tuning when people are
// added. A last class learns the strangers of the reference photos. The trained model and each
// person's mean features go to IndexedDB.

import { Curves } from '../charts.js';
import { CROP_SIZE, centroids, recogniserConfig, trainableLayers } from './recognise.js';
import * as samples from './samples.js';

// Each crop changes a little every epoch: small turns, shifts and zooms, a mirror image half
// the time, and brighter or darker light.
const AUGMENT = { rotation_degrees: 10, translation_pixels: 4, scale: 0.1, flip: true, brightness: 0.25 };
const OPTIMIZER = { type: 'adam', learning_rate: 0.001 };
// Minimum crops per person the model trains on.
const MIN_CROPS = 2;
// Copies of each reference crop in the training set. Each copy is augmented differently. With
// three, the strangers' class gets about as many examples as two enrolled people. With one, a
// stranger's probability of being unknown fell to 0.52 in a test run.
const REFERENCE_COPIES = 3;

/** The training panel and the recogniser it trains. */
export class Training {
  /**
   * @param {import('../../../js/src/client.js').WorkerClient} client the face worker
   * @param {{button: HTMLButtonElement, epochs: HTMLInputElement, fresh: HTMLInputElement,
   *   freeze: HTMLElement, status: HTMLElement, progress: HTMLProgressElement,
   *   loss: HTMLCanvasElement, accuracy: HTMLCanvasElement}} elements
   * @param {(profile: {people: string[], centroids: number[][]} | null) => void} onModel called
   *   with the profile of each newly trained or loaded recogniser
   */
  constructor(client, elements, onModel) {
    this.client = client;
    this.elements = elements;
    this.onModel = onModel;
    this.curves = new Curves(elements.loss, elements.accuracy);
    // The current recogniser's class names, or null before the first training.
    this.people = null;
    // The run in progress: {images, labels, enrolled, people, epochs, stepsPerEpoch}, or null;
    // the first `enrolled` images are the enrolled crops.
    this.run = null;
    // Crops of the reference photos' faces ({images, count}), fetched at the first training.
    this.references = null;
    // The enrolled crops as last stored.
    this.records = [];
    this.toggles = this.renderToggles();
    client.on('progress', ({ progress }) => this.showProgress(progress));
    client.on('epoch', ({ report }) => this.showEpoch(report));
    client.on('finished', () => this.finish());
    client.on('failed', ({ error }) => this.fail(`Training failed: ${error}`));
    elements.button.addEventListener('click', () => this.start());
    elements.fresh.addEventListener('change', () => this.update(this.records));
  }

  /** Whether a training run is in progress. */
  get training() {
    return this.run !== null;
  }

  /** Loads the recogniser stored by an earlier visit into the worker, if there is one. */
  async restore() {
    const record = await samples.loadRecogniser();
    if (!record) return;
    await this.client.request('load', { bytes: record.bytes, name: 'the stored recogniser' });
    this.people = record.people;
    this.onModel({ people: record.people, centroids: record.centroids });
    this.setStatus('restored', `Recognising ${record.people.join(', ')} with the model trained ${record.trained}.`);
    this.update(this.records);
  }

  /**
   * Sets the freeze toggles for the next run after the enrolled people (`records`) or the
   * "from scratch" box changed. With a new person, only the top layers train. A model trained
   * from scratch trains every layer. Shows a status when people the model was trained on
   * have been deleted since.
   */
  update(records) {
    this.records = records;
    const plan = this.plan(records);
    if (plan.deleted.length > 0 && !this.run) {
      this.setStatus('stale', `Deleted since training: ${plan.deleted.join(', ')}. Their faces show ` +
        'as unknown; train again to drop them from the model.');
    }
    if (plan.keep && plan.added.length > 0) {
      for (const { index, lower } of trainableLayers()) this.toggles.get(index).checked = lower;
    } else if (!plan.keep) {
      for (const box of this.toggles.values()) box.checked = false;
    }
    this.elements.button.dataset.mode = plan.keep ? 'fine-tune' : 'fresh';
  }

  // Orders the classes: the current model's people first, then the new ones by enrolment.
  // Weights are kept (fine-tuning) unless there is no model, someone was deleted, or the
  // "from scratch" box is ticked. Also lists the model's people who are no longer enrolled.
  plan(records) {
    const enrolled = [...new Set(records.map((record) => record.person))];
    const previous = this.people ?? [];
    const remaining = previous.filter((person) => enrolled.includes(person));
    const deleted = previous.filter((person) => !enrolled.includes(person));
    const added = enrolled.filter((person) => !previous.includes(person));
    const keep = this.people !== null && deleted.length === 0 && !this.elements.fresh.checked;
    return { people: keep ? [...remaining, ...added] : enrolled, added, deleted, keep };
  }

  async start() {
    if (this.run) return;
    const records = await samples.listSamples();
    const plan = this.plan(records);
    const epochs = Number(this.elements.epochs.value);
    const problem = checkPeople(records, plan.people) ?? checkEpochs(epochs, this.elements.epochs.value);
    if (problem) {
      this.setStatus('invalid', problem);
      return;
    }

    this.setStatus('training', 'Finding the faces of the reference photos…');
    try {
      this.references ??= await this.client.request('referenceFaces', { size: CROP_SIZE });
    } catch (error) {
      this.setStatus('failed', `Reading the reference photos failed: ${error.message}`);
      return;
    }
    const { images, labels } = trainingSet(records, plan.people, this.references);
    const classes = plan.people.length + 1;

    const frozen = new Set([...this.toggles].filter(([, box]) => box.checked).map(([index]) => index));
    const model = recogniserConfig(classes, frozen);
    const train = { epochs, batch_size: 16, validation_split: 0.2, seed: 1, shuffle: true };

    this.run = { images, labels, enrolled: records.length, people: plan.people, epochs, stepsPerEpoch: 1 };
    this.elements.button.disabled = true;
    this.curves.reset(epochs);
    const action = plan.keep ? 'Fine-tuning' : 'Training';
    const count = labels.length - REFERENCE_COPIES * this.references.count;
    this.setStatus('training', `${action} on ${count} crops of ${plan.people.length} people and ` +
      `${this.references.count} strangers…`);
    try {
      const info = await this.client.request('train', {
        images, labels, shape: [CROP_SIZE, CROP_SIZE, 3], classes,
        model, keep: plan.keep, optimizer: OPTIMIZER, train, augment: AUGMENT,
      });
      this.run.stepsPerEpoch = info.steps_per_epoch;
    } catch (error) {
      this.fail(`Training could not start: ${error.message}`);
    }
  }

  showProgress(progress) {
    if (!this.run) return;
    const done = (progress.epoch - 1 + progress.step / progress.steps) / this.run.epochs;
    this.elements.progress.value = done;
    this.curves.addTraining(progress.epoch - 1 + progress.step / progress.steps, progress.loss, progress.accuracy);
    this.curves.draw();
  }

  showEpoch(report) {
    if (!this.run) return;
    this.elements.progress.value = report.epoch / this.run.epochs;
    this.curves.addTraining(report.epoch, report.loss, report.accuracy);
    if (report.val_loss != null) this.curves.addValidation(report.epoch, report.val_loss, report.val_accuracy);
    this.curves.draw();
    const validation = report.val_accuracy != null ? `, validation accuracy ${percent(report.val_accuracy)}` : '';
    this.setStatus('training', `Epoch ${report.epoch} of ${this.run.epochs}: loss ${report.loss.toFixed(3)}, ` +
      `accuracy ${percent(report.accuracy)}${validation}.`);
    this.elements.status.dataset.valAccuracy = String(report.val_accuracy ?? '');
  }

  // Computes each person's mean features, stores the model and hands it to the recogniser.
  async finish() {
    const run = this.run;
    if (!run) return;
    try {
      // The enrolled crops come first in the training set.
      const { enrolled } = run;
      const images = run.images.subarray(0, enrolled * CROP_SIZE * CROP_SIZE * 3);
      const features = await this.client.request('features', { images });
      const means = centroids(features, run.labels.subarray(0, enrolled), run.people.length);
      const profile = { people: run.people, centroids: means };
      const bytes = await this.client.request('save');
      const trained = new Date().toLocaleString();
      await samples.saveRecogniser({ bytes, ...profile, trained });
      this.people = run.people;
      this.onModel(profile);
      this.setStatus('done', `Trained on ${run.people.join(', ')} and the strangers: ` +
        `${this.elements.status.textContent.replace(/^Epoch \d+ of \d+: /, '')}`);
    } catch (error) {
      this.fail(`Storing the trained model failed: ${error.message}`);
      return;
    }
    this.end();
    this.elements.fresh.checked = false;
    this.update(this.records);
  }

  // Ends a failed run and goes back to the stored recogniser, so a half-trained model never
  // recognises.
  async fail(message) {
    this.setStatus('failed', message);
    this.end();
    try {
      await this.restore();
    } catch (error) {
      this.setStatus('failed', `${message} Restoring the stored model failed too: ${error.message}`);
    }
  }

  end() {
    this.run = null;
    this.elements.button.disabled = false;
    this.elements.progress.value = 0;
  }

  setStatus(state, message) {
    this.elements.status.dataset.state = state;
    this.elements.status.textContent = message;
  }

  // One checkbox per layer with weights; a ticked layer is frozen (not trained).
  renderToggles() {
    const toggles = new Map();
    const items = trainableLayers().map(({ index, name }) => {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.dataset.testid = `freeze-${index}`;
      toggles.set(index, box);
      label.append(box, ` ${name}`);
      return label;
    });
    this.elements.freeze.replaceChildren(...items);
    return toggles;
  }
}

// Returns why the enrolled crops cannot train a recogniser, or null when they can.
function checkPeople(records, people) {
  if (people.length === 0) return 'Enrol someone first: type a name and press Capture.';
  for (const person of people) {
    const count = records.filter((record) => record.person === person).length;
    if (count < MIN_CROPS) return `${person} has ${count} crop; capture at least ${MIN_CROPS} per person.`;
  }
  const odd = records.find((record) => record.size !== CROP_SIZE);
  if (odd) return `A crop of ${odd.person} is ${odd.size}x${odd.size} pixels; the model takes ${CROP_SIZE}x${CROP_SIZE}.`;
  return null;
}

// Returns why `epochs` (`text` as typed) is invalid, or null when it is valid.
function checkEpochs(epochs, text) {
  if (Number.isInteger(epochs) && epochs >= 1 && epochs <= 500) return null;
  return `Epochs must be a whole number from 1 to 500, got ${text}.`;
}

// Pixels in [0, 1] and class indices of the enrolled crops, in `people` order, followed by
// `REFERENCE_COPIES` copies of the reference crops in the last class.
function trainingSet(records, people, references) {
  const size = CROP_SIZE * CROP_SIZE * 3;
  const count = records.length + REFERENCE_COPIES * references.count;
  const images = new Float32Array(count * size);
  const labels = new Uint32Array(count);
  records.forEach((record, index) => {
    for (let i = 0; i < size; i += 1) images[index * size + i] = record.rgb[i] / 255;
    labels[index] = people.indexOf(record.person);
  });
  for (let copy = 0; copy < REFERENCE_COPIES; copy += 1) {
    images.set(references.images, (records.length + copy * references.count) * size);
  }
  labels.fill(people.length, records.length);
  return { images, labels };
}

function percent(value) {
  return `${(value * 100).toFixed(1)} %`;
}
