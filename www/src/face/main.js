// Face page: shows the webcam mirrored, sends its frames to the face worker and draws the boxes
// the worker finds, named by the trained recogniser. Without a camera, photos picked by the user
// take the camera's place. The page itself runs no model, so it stays responsive while the
// worker detects, trains and recognises.

import { WorkerClient } from '../../../js/src/client.js';
import { CameraError, closeCamera, drawMirrored, isBlank, openCamera } from './camera.js';
import { Enrolment } from './enrol.js';
import { RateMeter, drawBoxes } from './overlay.js';
import { CROP_SIZE, identify } from './recognise.js';
import { Training } from './training.js';

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);

const elements = {
  backend: byTestId('backend'),
  error: byTestId('error'),
  cameraStatus: byTestId('camera-status'),
  preview: document.querySelector('#preview'),
  overlay: document.querySelector('#overlay'),
  video: document.querySelector('#video'),
  fps: byTestId('fps'),
  faceCount: byTestId('face-count'),
  photo: document.querySelector('#photo'),
  useCamera: document.querySelector('#use-camera'),
  enrolButton: byTestId('enrol-button'),
  detectorSize: byTestId('detector-size'),
  recognisedName: byTestId('recognized-name'),
  recognisedConfidence: byTestId('recognized-confidence'),
  threshold: byTestId('threshold'),
  thresholdValue: byTestId('threshold-value'),
};
const preview = elements.preview.getContext('2d', { willReadFrequently: true });

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const client = new WorkerClient(worker, 'face worker');
client.on('crashed', ({ error }) => showError(`The face worker stopped: ${error}`));

// The trained recogniser's class names and mean features, or null before training.
let profile = null;
// The names of the people enrolled now. The recogniser never names anyone else, so a person
// deleted since training is unknown at once.
let enrolled = new Set();
const training = new Training(
  client,
  {
    button: byTestId('train-button'),
    epochs: byTestId('train-epochs'),
    fresh: byTestId('train-fresh'),
    freeze: byTestId('freeze'),
    status: byTestId('train-status'),
    progress: byTestId('train-progress'),
    loss: byTestId('loss-chart'),
    accuracy: byTestId('accuracy-chart'),
  },
  (trained) => {
    profile = trained;
  },
);
const enrolment = new Enrolment(
  {
    name: byTestId('enrol-name'),
    count: byTestId('enrol-count'),
    button: elements.enrolButton,
    status: byTestId('enrol-status'),
    people: byTestId('people'),
  },
  (records) => {
    enrolled = new Set(records.map((record) => record.person));
    training.update(records);
  },
);

const meter = new RateMeter();
let stream = null;
// The photo shown in place of the camera, as ImageData, or null.
let photo = null;
// Incremented to end the running camera loops (when photos replace the camera).
let cameraSession = 0;

function showError(message) {
  elements.error.querySelector('.error-text').textContent = message;
  elements.error.hidden = false;
}

elements.error.querySelector('.error-close').addEventListener('click', () => {
  elements.error.hidden = true;
});

function setCameraStatus(state, message) {
  elements.cameraStatus.dataset.state = state;
  elements.cameraStatus.textContent = message;
}

const nextAnimationFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

// Sends one RGBA frame to the worker and draws the faces it finds over the preview, with names
// once a recogniser is trained. While an enrolment burst runs, the best face's crop goes to the
// enrolment. Returns the faces, or null when `current()` turns false meanwhile (the preview
// shows something else by then).
async function detect(image, current = () => true) {
  const { width, height } = image;
  const cropSize = enrolment.wantsCrop ? CROP_SIZE : 0;
  // While training, the worker's model does not match the profile yet.
  const recognise = profile !== null && !training.training;
  const request = { rgba: image.data.buffer, width, height, cropSize, recognise };
  const { faces, crop } = await client.request('detect', request, [image.data.buffer]);
  if (!current()) return null;
  const threshold = Number(elements.threshold.value);
  for (const face of faces) {
    if (face.probabilities) face.label = identify(face, profile, threshold, enrolled);
  }
  drawBoxes(elements.overlay, faces, width, height);
  showName(faces[0]?.label);
  elements.faceCount.textContent = String(faces.length);
  if (crop) await enrolment.add(crop, CROP_SIZE);
  return faces;
}

// Shows the best face's name, or "unknown", with its confidence; a dash without one.
function showName(label) {
  const name = elements.recognisedName;
  name.textContent = label?.name ?? '–';
  let state = 'none';
  if (label) state = label.known ? 'known' : 'unknown';
  name.dataset.state = state;
  name.dataset.probability = label ? label.probability.toFixed(4) : '';
  name.dataset.similarity = label ? label.similarity.toFixed(4) : '';
  elements.recognisedConfidence.textContent = label ? `${Math.round(label.confidence * 100)} % sure` : '';
}

elements.threshold.addEventListener('input', () => {
  elements.thresholdValue.textContent = Number(elements.threshold.value).toFixed(2);
});

// Draws the camera into the preview on every animation frame while the session lasts.
async function previewLoop(session) {
  while (session === cameraSession) {
    drawMirrored(elements.video, preview);
    await nextAnimationFrame();
  }
}

// Detects faces in the latest preview frame, one frame at a time, while the session lasts.
// Frames before the camera's first decoded, non-blank frame are skipped.
async function detectLoop(session) {
  let waiting = true;
  while (session === cameraSession) {
    const { width, height } = elements.preview;
    const image = drawMirrored(elements.video, preview) ? preview.getImageData(0, 0, width, height) : null;
    if (!image || isBlank(image)) {
      await nextAnimationFrame();
      continue;
    }
    if (waiting) {
      waiting = false;
      setCameraStatus('on', 'Camera on: faces are detected live.');
    }
    try {
      await detect(image, () => session === cameraSession);
    } catch (error) {
      showError(`Face detection failed: ${error.message}`);
      return;
    }
    if (session !== cameraSession) return;
    showRate(meter.tick());
    await nextAnimationFrame();
  }
}

function showRate(rate) {
  elements.fps.textContent = rate === null ? '–' : rate.toFixed(rate < 10 ? 1 : 0);
  elements.fps.dataset.value = rate === null ? '' : String(rate);
}

async function startCamera() {
  setCameraStatus('starting', 'Starting the camera…');
  try {
    stream = await openCamera(elements.video);
  } catch (error) {
    const message = error instanceof CameraError ? error.message : `The camera failed: ${error.message}`;
    setCameraStatus('unavailable', message);
    elements.useCamera.hidden = true;
    return;
  }
  const session = ++cameraSession;
  meter.reset();
  setCameraStatus('waiting', 'Camera on: waiting for its first frame…');
  previewLoop(session);
  detectLoop(session);
}

function stopCamera() {
  cameraSession += 1;
  closeCamera(stream);
  stream = null;
}

// Shows a picked photo as it is (not mirrored) and detects its faces.
async function showPhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    showError(`${file.name} is not an image the browser can decode; pick a JPEG, PNG or WebP photo.`);
    return;
  }
  const hadCamera = stream !== null;
  stopCamera();
  enrolment.finish();
  elements.useCamera.hidden = !hadCamera;
  const canvas = elements.preview;
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  preview.drawImage(bitmap, 0, 0);
  bitmap.close();
  photo = preview.getImageData(0, 0, canvas.width, canvas.height);
  meter.reset();
  showRate(null);
  try {
    const faces = await detect(copyImage(photo));
    elements.photo.dataset.faces = String(faces.length);
  } catch (error) {
    showError(`Face detection failed on ${file.name}: ${error.message}`);
  }
}

// Copies an ImageData, since sending a frame to the worker detaches its buffer.
function copyImage(image) {
  return new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
}

// Capture: a burst from the camera after a countdown, or the face of the photo shown.
async function capture() {
  if (!photo && !stream) {
    enrolment.fail('Turn on the camera or pick a photo first.');
    return;
  }
  if (!photo) {
    enrolment.begin({ countdown: true });
    return;
  }
  if (!enrolment.begin({ countdown: false, count: 1 })) return;
  try {
    const faces = await detect(copyImage(photo));
    if (faces.length === 0) enrolment.fail('The photo shows no face to enrol; pick another photo.');
  } catch (error) {
    showError(`Face detection failed: ${error.message}`);
  } finally {
    enrolment.finish();
  }
}

elements.enrolButton.addEventListener('click', capture);

byTestId('export-button').addEventListener('click', () => enrolment.exportFile());

byTestId('import-input').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  event.target.value = '';
  if (!file) return;
  const checkModel = ({ bytes }) => client.request('load', { bytes, name: `the model in ${file.name}` });
  await enrolment.importFile(file, checkModel);
  // Whether or not the file had a model, the worker now goes back to the stored one.
  try {
    await training.restore();
  } catch (error) {
    showError(`Loading the stored recogniser failed: ${error.message}. Train again to replace it.`);
  }
});

elements.detectorSize.addEventListener('change', async () => {
  const select = elements.detectorSize;
  select.disabled = true;
  try {
    await client.request('inputSize', { inputSize: Number(select.value) });
    meter.reset();
    select.dataset.applied = select.value;
  } catch (error) {
    showError(`Changing the detector input size failed: ${error.message}`);
  } finally {
    select.disabled = false;
  }
});

elements.photo.addEventListener('change', () => {
  const [file] = elements.photo.files;
  if (file) showPhoto(file);
});

elements.useCamera.addEventListener('click', () => {
  elements.useCamera.hidden = true;
  photo = null;
  startCamera();
});

async function start() {
  let info;
  try {
    info = await client.request('start', { inputSize: Number(elements.detectorSize.value) });
  } catch (error) {
    elements.backend.textContent = 'The face detector failed to load.';
    showError(`The face detector failed to load: ${error.message}`);
    return;
  }
  elements.backend.textContent =
    info.backend === 'webgpu' ? 'Detecting on WebGPU.' : `Detecting on the CPU: ${info.fallbackReason}.`;
  elements.backend.dataset.backend = info.backend;
  try {
    await enrolment.load();
  } catch (error) {
    showError(`Reading the enrolled faces from IndexedDB failed: ${error.message}`);
  }
  try {
    await training.restore();
  } catch (error) {
    showError(`Loading the stored recogniser failed: ${error.message}. Train again to replace it.`);
  }
  document.body.dataset.ready = 'true';
  await startCamera();
}

start();
