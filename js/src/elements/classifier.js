// <webcnn-classifier>: classifies a drawing or webcam frames with a trained model and shows the
// top-k classes live, inside a shadow root.
//
// Attributes: src (URL of a webcnn .safetensors file or of a tfjs-layers model.json), input,
// top-k (default 3) and labels (comma-separated class names; default the class indices). The
// input is `draw` (the default, for models whose input is an image with 1 or 3 channels) or
// `webcam`. The `model` property takes a Sequential instead of src, and setting it or a new src
// drops a model still loading from the old src. Events: 'load' (a model is ready), 'prediction'
// (detail {top: [{index, label, probability}]}) and 'error' (detail {message}).
// The pad resamples the drawing to the model's input height and width, with the grey value in
// every channel; a model whose input has another number of channels gives an error event.

import { loadModel } from '../model.js';
import { tensor } from '../tensor.js';
import { DrawPad } from '../pad.js';
import { BASE } from './style.js';

// Time between webcam predictions, in milliseconds.
const WEBCAM_INTERVAL_MS = 250;

export class WebcnnClassifier extends HTMLElement {
  static observedAttributes = ['src', 'input'];

  constructor() {
    super();
    this.current = null;
    this.ownsModel = false;
    // The latest load() call, so that an older one finishing later cannot replace its model.
    this.pendingLoad = null;
    // True while a prediction runs (documented in elements.d.ts).
    this.busy = false;
    // The latest drawing that arrived during a prediction, to classify when that one ends.
    this.queuedPixels = null;
    this.stream = null;
    this.timer = null;
    this.pad = null;
  }

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: 'open' });
      root.adoptedStyleSheets = [BASE];
      root.innerHTML = `
        <div part="header"><strong>webcnn classifier</strong></div>
        <div class="input"></div>
        <p class="status" role="status">No model yet.</p>
        <ol part="predictions"></ol>`;
    }
    this.setUpInput();
    if (this.getAttribute('src') && !this.current) this.load(this.getAttribute('src'));
  }

  disconnectedCallback() {
    this.stopWebcam();
  }

  attributeChangedCallback(name, oldValue, value) {
    if (!this.shadowRoot || oldValue === value) return;
    if (name === 'src' && value) this.load(value);
    if (name === 'input') this.setUpInput();
  }

  /** The model that classifies; set it to use a Sequential instead of src. */
  get model() {
    return this.current;
  }

  set model(model) {
    this.pendingLoad = null;
    this.replaceModel(model, false);
  }

  replaceModel(model, owned) {
    if (this.ownsModel && this.current !== model) this.current?.dispose();
    this.current = model;
    this.ownsModel = owned;
    this.status(model ? 'Ready.' : 'No model yet.');
    if (model) this.dispatchEvent(new Event('load'));
    this.fitPad();
  }

  // Sets the draw pad's output to the model's input shape, with an error event when the pad
  // cannot draw that shape.
  fitPad() {
    if (!this.pad || !this.current) return;
    try {
      this.pad.shape = this.current.inputShape;
    } catch (error) {
      this.fail(error);
    }
  }

  // Loads the model at `src` unless the model property or another src is set before it loads.
  async load(src) {
    const request = Symbol(src);
    this.pendingLoad = request;
    this.status(`Loading ${src}…`);
    try {
      const model = await loadModel(src);
      if (this.pendingLoad === request) this.replaceModel(model, true);
      else model.dispose();
    } catch (error) {
      if (this.pendingLoad === request) this.fail(error);
    }
  }

  status(text, isError = false) {
    const line = this.shadowRoot.querySelector('.status');
    line.textContent = text;
    line.classList.toggle('error', isError);
  }

  fail(error) {
    this.status(error.message, true);
    this.dispatchEvent(new CustomEvent('error', { detail: { message: error.message } }));
  }

  setUpInput() {
    this.stopWebcam();
    this.pad = null;
    const box = this.shadowRoot.querySelector('.input');
    if (this.getAttribute('input') === 'webcam') {
      box.innerHTML = '<video part="video" muted playsinline></video>';
      this.startWebcam(box.querySelector('video'));
      return;
    }
    box.innerHTML = '<canvas class="pad" part="pad" width="196" height="196"></canvas><br><button type="button">Clear</button>';
    const pad = new DrawPad(box.querySelector('canvas'), (pixels) => {
      // The pad keeps its last shape when it rejects the model's input shape.
      if (this.current && pad.shape.join() !== this.current.inputShape.join()) this.fitPad();
      else this.classify(pixels);
    });
    this.pad = pad;
    this.fitPad();
    box.querySelector('button').addEventListener('click', () => {
      pad.clear();
      this.shadowRoot.querySelector('ol').replaceChildren();
    });
  }

  async startWebcam(video) {
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
      video.srcObject = this.stream;
      await video.play();
    } catch (error) {
      this.fail(new Error(`the webcam is unavailable (${error.message}); allow camera access or use input="draw"`));
      return;
    }
    const frame = document.createElement('canvas');
    const tick = async () => {
      if (this.current && !this.busy) await this.classify(this.framePixels(video, frame));
      this.timer = setTimeout(tick, WEBCAM_INTERVAL_MS);
    };
    tick();
  }

  stopWebcam() {
    clearTimeout(this.timer);
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }

  // The video frame scaled to the model's input, as values in [0, 1] (grey for one channel).
  framePixels(video, canvas) {
    const [height, width, channels] = this.current.inputShape;
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height);
    const rgba = context.getImageData(0, 0, width, height).data;
    const pixels = new Float32Array(width * height * channels);
    for (let i = 0; i < width * height; i++) {
      if (channels === 1) {
        pixels[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
      } else {
        for (let c = 0; c < channels; c++) pixels[i * channels + c] = rgba[4 * i + Math.min(c, 2)] / 255;
      }
    }
    return pixels;
  }

  /**
   * Classifies `pixels` (the model's input shape, values in [0, 1]), or keeps them for later
   * while a prediction runs, so that the final state of a stroke is always classified.
   * @param {Float32Array} pixels
   */
  async classify(pixels) {
    const model = this.current;
    if (!model) return;
    if (this.busy) {
      this.queuedPixels = pixels;
      return;
    }
    this.busy = true;
    try {
      const output = await model.predict(tensor(pixels, [1, ...model.inputShape]));
      this.show(Array.from(output.data));
    } catch (error) {
      this.fail(error);
    } finally {
      this.busy = false;
    }
    const next = this.queuedPixels;
    this.queuedPixels = null;
    if (next) await this.classify(next);
  }

  show(probabilities) {
    const k = Math.max(1, Number(this.getAttribute('top-k') ?? 3) || 3);
    const names = this.getAttribute('labels')?.split(',').map((s) => s.trim()) ?? [];
    const top = probabilities
      .map((probability, index) => ({ index, label: names[index] ?? String(index), probability }))
      .sort((a, b) => b.probability - a.probability)
      .slice(0, k);
    const list = this.shadowRoot.querySelector('ol');
    list.replaceChildren(...top.map(({ label, probability }) => {
      const item = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = label;
      item.append(name, ` ${(probability * 100).toFixed(1)} %`);
      return item;
    }));
    this.dispatchEvent(new CustomEvent('prediction', { detail: { top } }));
  }
}
