// Face worker: owns the WebGPU devices (or the CPU fallback) of the wasm FaceDetector and of the
// wasm Trainer that learns the enrolled faces, so detection, cropping, training and recognition
// never run on the page's thread. It fetches the converted detector from the page's own origin.
//
// Requests from the page: {id, type, ...}. Replies: {type: 'reply', id, ok, value | error}.
// Training events without an id: {type: 'progress' | 'epoch' | 'finished' | 'failed', ...}.

import init, { FaceDetector, Trainer } from '../../pkg/webcnn.js';
import detectorUrl from '../../../models/tiny_face_detector.safetensors?url';
import { TrainerDriver, errorText, fetchBytes, openTrainer, requestAdapter, serve } from '../../../js/src/engine.js';
import { REFERENCE_PHOTOS } from './references.js';

// Box score above which a detection counts as a face (face-api's default).
const SCORE_THRESHOLD = 0.5;
// Growth of a face box's larger side into its crop: 0.2 adds 10 % on each side.
const CROP_MARGIN = 0.2;
// Faces per frame that are recognised, largest score first.
const MAX_RECOGNISED = 4;
// Detector input for the reference photos: face-api's default, which finds 15 of their faces
// (320 finds 13).
const REFERENCE_INPUT = 416;

let detector = null;
// The detector's current input side, in pixels.
let detectorInput = 0;
let driver = null;
// The recogniser: its input side, the index of the layer that outputs the face features (the
// last layer outputs the class probabilities) and the number of classes. `load` and `train`
// set it, and it is null while there is no model.
let recogniser = null;
// Every call into the detector goes through this chain: the wasm object allows one call at a
// time while it rebuilds itself.
let chain = Promise.resolve();

function exclusive(task) {
  const result = chain.then(task);
  chain = result.catch(() => {});
  return result;
}

async function startDetector(inputSize) {
  const [bytes] = await Promise.all([fetchBytes(detectorUrl), init()]);
  const source = 'tiny_face_detector.safetensors';
  let { problem } = await requestAdapter();
  if (!problem) {
    try {
      detector = await FaceDetector.create(bytes, source, inputSize);
    } catch (error) {
      problem = errorText(error);
    }
  }
  if (problem) detector = FaceDetector.createCpu(bytes, source, inputSize, problem);
  detectorInput = inputSize;
  const engine = await openTrainer(async () => ({ Trainer }));
  driver = new TrainerDriver(engine.trainer);
  return { backend: detector.backend, fallbackReason: detector.fallbackReason ?? null };
}

function requireDetector() {
  if (!detector) throw new Error('the face detector is not loaded yet');
}

// Crops each face and runs the recogniser on the crops: adds `probabilities` and `features`
// to each face.
async function recognise(frame, width, height, faces) {
  const { size, featureLayer, classes } = recogniser;
  const crops = [];
  for (const face of faces) crops.push(await detector.crop(frame, width, height, face, size, CROP_MARGIN));
  const batch = new Float32Array(crops.length * crops[0].length);
  crops.forEach((crop, index) => batch.set(crop, index * crop.length));
  // One forward pass gives both the features and the class probabilities (the last layer).
  const layers = [featureLayer, featureLayer + 1];
  const outputs = await driver.exclusive(() => driver.trainer.features(batch, layers));
  const probabilities = outputs.subarray(outputs.length - faces.length * classes);
  const features = outputs.subarray(0, outputs.length - faces.length * classes);
  const featureCount = features.length / faces.length;
  faces.forEach((face, index) => {
    face.probabilities = Array.from(probabilities.subarray(index * classes, (index + 1) * classes));
    face.features = Array.from(features.subarray(index * featureCount, (index + 1) * featureCount));
  });
}

async function setInputSize(inputSize) {
  await detector.setInputSize(inputSize);
  detectorInput = inputSize;
}

// Decodes an image file fetched from `url` into RGBA bytes: {rgba, width, height}.
async function decodeImage(url) {
  const bitmap = await createImageBitmap(new Blob([await fetchBytes(url)]));
  const { width, height } = bitmap;
  const context = new OffscreenCanvas(width, height).getContext('2d');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = new Uint8Array(context.getImageData(0, 0, width, height).data.buffer);
  return { rgba, width, height };
}

// Crops, `size` pixels a side, of every face the detector finds in the reference photos,
// detected at `input` pixels. Returns {images, count} with the crops flat.
async function referenceCrops(size, input) {
  const crops = [];
  const previous = detectorInput;
  if (previous !== input) await setInputSize(input);
  try {
    for (const url of REFERENCE_PHOTOS) {
      const { rgba, width, height } = await decodeImage(url);
      for (const face of await detector.detect(rgba, width, height, SCORE_THRESHOLD)) {
        crops.push(await detector.crop(rgba, width, height, face, size, CROP_MARGIN));
      }
    }
  } finally {
    if (previous !== input) await setInputSize(previous);
  }
  const images = new Float32Array(crops.length * size * size * 3);
  crops.forEach((crop, index) => images.set(crop, index * crop.length));
  return { images, count: crops.length };
}

// Describes the model just built or loaded for recognition.
function setRecogniser(config) {
  const { layers } = config;
  recogniser = { size: config.input_shape[0], featureLayer: layers.length - 2, classes: layers.at(-1).units };
}

serve({
  // Loads the detector for `inputSize`x`inputSize` input (a multiple of 32) and the trainer.
  async start({ inputSize }) {
    return startDetector(inputSize);
  },
  // Rebuilds the detector for another input size; a smaller one detects faster.
  async inputSize({ inputSize }) {
    requireDetector();
    return exclusive(() => setInputSize(inputSize));
  },
  // Finds the faces in one RGBA frame (`rgba` is its ArrayBuffer). With a `cropSize`, also cuts
  // the best face's square crop, `cropSize` pixels a side, RGB in [0, 1]; otherwise `crop` is
  // null. With `recognise` set and a trained model, each of the best faces also gets the
  // model's class `probabilities` and its `features`.
  async detect({ rgba, width, height, cropSize, recognise: wanted }) {
    requireDetector();
    const frame = new Uint8Array(rgba);
    return exclusive(async () => {
      const faces = await detector.detect(frame, width, height, SCORE_THRESHOLD);
      if (faces.length === 0) return { faces, crop: null };
      const crop = cropSize ? await detector.crop(frame, width, height, faces[0], cropSize, CROP_MARGIN) : null;
      if (wanted && recogniser) await recognise(frame, width, height, faces.slice(0, MAX_RECOGNISED));
      return { faces, crop };
    });
  },
  // Face crops of strangers, from the reference photos, for the recogniser's "unknown" class:
  // {images, count}, `size` pixels a side, detected at the detector's default input so that
  // they do not depend on the input chosen on the page.
  async referenceFaces({ size }) {
    requireDetector();
    return exclusive(() => referenceCrops(size, REFERENCE_INPUT));
  },
  // Trains on `images` (flat, `shape` [size, size, 3] each) with class `labels`. `model` is the
  // config to train; with `keep`, the current weights of matching shape are kept (fine-tuning),
  // otherwise every weight starts fresh. Returns the run's info; events report the progress.
  async train({ images, labels, shape, classes, model, keep, optimizer, train, augment }) {
    requireDetector();
    await driver.exclusive(async () => {
      driver.trainer.setTrainingData(images, labels, shape, classes);
      if (keep) await driver.trainer.rebuild(model, train.seed);
    });
    const info = await driver.train({ model: keep ? null : model, optimizer, train, augment });
    setRecogniser(model);
    return info;
  },
  async stopTraining() {
    await driver.stop();
    return null;
  },
  // Features of `images` (flat crops the model takes) from the recogniser's feature layer.
  async features({ images }) {
    if (!recogniser) throw new Error('there is no recogniser yet; train one first');
    return driver.exclusive(() => driver.trainer.features(images, [recogniser.featureLayer]));
  },
  // The trained model as a webcnn model file.
  async save() {
    return driver.exclusive(() => driver.trainer.save());
  },
  // Replaces the recogniser with a model file's (`bytes`).
  async load({ bytes, name }) {
    requireDetector();
    const info = await driver.exclusive(() => driver.trainer.load(bytes, name));
    setRecogniser(info.config);
    return info;
  },
});
