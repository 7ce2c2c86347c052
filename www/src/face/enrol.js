// Enrolment: a name, a countdown, then a burst of face crops from the live detections, shown as
// thumbnails per person and kept in IndexedDB. Bad crops and whole people can be deleted.

import * as samples from './samples.js';
import { exportSamples, importSamples } from './transfer.js';

// Seconds counted down before a burst, so the person can face the camera.
const COUNTDOWN_SECONDS = 3;
// Crops a burst may take at most.
const MAX_BURST = 200;

/** The enrolment panel: its form, its progress and the enrolled people's thumbnails. */
export class Enrolment {
  /**
   * @param {{name: HTMLInputElement, count: HTMLInputElement, button: HTMLButtonElement,
   *   status: HTMLElement, people: HTMLElement}} elements
   * @param {(records: object[]) => void} onChange called with every stored crop after each change
   */
  constructor(elements, onChange = () => {}) {
    this.elements = elements;
    this.onChange = onChange;
    // The burst in progress: {person, total, remaining, ready}, or null.
    this.burst = null;
  }

  /** Shows the crops stored by earlier visits. */
  async load() {
    const records = await samples.listSamples();
    this.render(records);
    this.onChange(records);
  }

  /** Whether the next detected face should be cropped for the burst. */
  get wantsCrop() {
    return this.burst?.ready === true;
  }

  /**
   * Checks the form and starts a burst: after the countdown when `countdown` is true,
   * otherwise at once. `count` overrides the form's number of crops. Returns false, with a
   * message, when the name or the count is invalid or a burst is running.
   */
  begin({ countdown, count }) {
    const person = this.elements.name.value.trim();
    const total = count ?? Number(this.elements.count.value);
    if (this.burst) return this.fail(`A capture of ${this.burst.person} is running; wait until it ends.`);
    if (!person) return this.fail("Type the person's name first.");
    if (!Number.isInteger(total) || total < 1 || total > MAX_BURST) {
      return this.fail(`The number of crops must be a whole number from 1 to ${MAX_BURST}, got ${this.elements.count.value}.`);
    }
    this.burst = { person, total, remaining: total, ready: !countdown };
    this.elements.button.disabled = true;
    if (countdown) this.countDown(COUNTDOWN_SECONDS);
    return true;
  }

  countDown(seconds) {
    if (!this.burst) return;
    if (seconds === 0) {
      this.burst.ready = true;
      this.setStatus('capturing', `Capturing ${this.burst.person}: 0 of ${this.burst.total} crops.`);
      return;
    }
    this.setStatus('countdown', `Capturing ${this.burst.person} in ${seconds}…`);
    setTimeout(() => this.countDown(seconds - 1), 1000);
  }

  /**
   * Stores one crop of the running burst (`size`x`size` RGB values in [0, 1]) and shows it.
   * @param {Float32Array} crop
   * @param {number} size
   */
  async add(crop, size) {
    const burst = this.burst;
    if (!burst?.ready || burst.remaining === 0) return;
    burst.remaining -= 1;
    const rgb = Uint8Array.from(crop, (value) => Math.round(value * 255));
    try {
      await samples.addSample(burst.person, rgb, size);
    } catch (error) {
      this.finish();
      this.fail(`Storing a crop of ${burst.person} failed: ${error.message}`);
      return;
    }
    const done = burst.total - burst.remaining;
    this.setStatus('capturing', `Capturing ${burst.person}: ${done} of ${burst.total} crops.`);
    if (burst.remaining === 0) this.finish();
    await this.load();
    // Set after the last thumbnail is drawn, so the status and the thumbnails agree.
    if (burst.remaining === 0) this.setStatus('done', `Enrolled ${burst.total} crops of ${burst.person}.`);
  }

  /** Downloads every stored crop and the trained recogniser as one file (`faces.json`). */
  async exportFile() {
    const records = await samples.listSamples();
    const recogniser = await samples.loadRecogniser();
    const blob = new Blob([exportSamples(records, recogniser)], { type: 'application/json' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = 'faces.json';
    link.click();
    URL.revokeObjectURL(link.href);
    const model = recogniser ? ' and the trained model' : '';
    this.setStatus('exported', `Exported ${records.length} crops${model}.`);
  }

  /**
   * Adds the crops of an exported file to the stored ones and stores its recogniser, if it has
   * one, in place of the current one. An invalid file adds nothing and shows why. Returns
   * whether a recogniser was stored.
   * @param {File} file
   * @param {(recogniser: {bytes: Uint8Array}) => Promise<void>} checkModel throws when the
   *   file's model does not load, before anything is stored
   */
  async importFile(file, checkModel) {
    let imported;
    try {
      imported = importSamples(await file.text(), file.name);
      if (imported.recogniser) await checkModel(imported.recogniser);
      await samples.addSamples(imported.samples);
      if (imported.recogniser) await samples.saveRecogniser(imported.recogniser);
    } catch (error) {
      this.fail(`Importing failed: ${error.message}`);
      return false;
    }
    const model = imported.recogniser ? ' and a trained model' : '';
    this.setStatus('imported', `Imported ${imported.samples.length} crops${model} from ${file.name}.`);
    await this.load();
    return imported.recogniser !== null;
  }

  /** Ends the running burst, keeping the crops stored so far. */
  finish() {
    this.burst = null;
    this.elements.button.disabled = false;
  }

  fail(message) {
    this.setStatus('invalid', message);
    return false;
  }

  setStatus(state, message) {
    this.elements.status.dataset.state = state;
    this.elements.status.textContent = message;
  }

  // Lists the people with their crops as thumbnails, each with a delete button.
  render(records) {
    const people = Map.groupBy(records, (record) => record.person);
    const items = [...people].map(([person, crops]) => this.personItem(person, crops));
    this.elements.people.replaceChildren(...items);
  }

  personItem(person, crops) {
    const item = document.createElement('li');
    item.dataset.person = person;
    const heading = document.createElement('div');
    heading.className = 'row';
    const name = document.createElement('strong');
    name.textContent = `${person} (${crops.length})`;
    const remove = button('Delete person', 'delete-person', async () => {
      await samples.deletePerson(person);
      await this.load();
    });
    heading.append(name, remove);
    const thumbnails = document.createElement('div');
    thumbnails.className = 'thumbnails';
    thumbnails.append(...crops.map((record) => this.thumbnail(record)));
    item.append(heading, thumbnails);
    return item;
  }

  thumbnail(record) {
    const figure = document.createElement('figure');
    figure.dataset.testid = 'sample';
    figure.append(cropCanvas(record.rgb, record.size));
    figure.append(
      button('×', 'delete-sample', async () => {
        await samples.deleteSample(record.id);
        await this.load();
      }, 'Delete this crop'),
    );
    return figure;
  }
}

function button(label, testId, onClick, description = label) {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.setAttribute('aria-label', description);
  element.dataset.testid = testId;
  element.addEventListener('click', onClick);
  return element;
}

// Draws `size`x`size` RGB bytes on a canvas.
function cropCanvas(rgb, size) {
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const image = new ImageData(size, size);
  for (let i = 0; i < size * size; i += 1) {
    image.data.set(rgb.subarray(3 * i, 3 * i + 3), 4 * i);
    image.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas;
}
