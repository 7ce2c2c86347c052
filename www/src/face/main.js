// Face page: shows the webcam mirrored, sends its frames to the face worker and draws the boxes
// the worker finds. Without a camera, photos picked by the user take the camera's place. The
// page itself runs no model, so it stays responsive while the worker detects.

import { WorkerClient } from '../client.js';
import { CameraError, closeCamera, drawMirrored, isBlank, openCamera } from './camera.js';
import { RateMeter, drawBoxes } from './overlay.js';

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
};
const preview = elements.preview.getContext('2d', { willReadFrequently: true });

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const client = new WorkerClient(worker);
client.on('crashed', ({ error }) => showError(`The face worker stopped: ${error}`));

const meter = new RateMeter();
let stream = null;
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

// Sends one RGBA frame to the worker; returns its faces and draws them over the preview.
async function detect(image) {
  const { width, height } = image;
  const faces = await client.request('detect', { rgba: image.data.buffer, width, height }, [
    image.data.buffer,
  ]);
  drawBoxes(elements.overlay, faces, width, height);
  elements.faceCount.textContent = String(faces.length);
  return faces;
}

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
      await detect(image);
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
  elements.useCamera.hidden = !hadCamera;
  const canvas = elements.preview;
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  preview.drawImage(bitmap, 0, 0);
  bitmap.close();
  meter.reset();
  showRate(null);
  try {
    const faces = await detect(preview.getImageData(0, 0, canvas.width, canvas.height));
    elements.photo.dataset.faces = String(faces.length);
  } catch (error) {
    showError(`Face detection failed on ${file.name}: ${error.message}`);
  }
}

elements.photo.addEventListener('change', () => {
  const [file] = elements.photo.files;
  if (file) showPhoto(file);
});

elements.useCamera.addEventListener('click', () => {
  elements.useCamera.hidden = true;
  startCamera();
});

async function start() {
  let info;
  try {
    info = await client.request('start');
  } catch (error) {
    elements.backend.textContent = 'The face detector failed to load.';
    showError(`The face detector failed to load: ${error.message}`);
    return;
  }
  elements.backend.textContent =
    info.backend === 'webgpu'
      ? `Detecting on WebGPU at ${info.inputSize}x${info.inputSize}.`
      : `Detecting on the CPU (${info.fallbackReason}) at ${info.inputSize}x${info.inputSize}.`;
  elements.backend.dataset.backend = info.backend;
  document.body.dataset.ready = 'true';
  await startCamera();
}

start();
