// Face worker: owns the WebGPU device (or the CPU fallback) through the wasm FaceDetector, so
// detection and cropping never run on the page's thread. It fetches the converted detector from
// the page's own origin.
//
// Requests from the page: {id, type, ...}. Replies: {type: 'reply', id, ok, value | error}.

import init, { FaceDetector } from '../../pkg/webcnn.js';
import detectorUrl from '../../../models/tiny_face_detector.safetensors?url';

// Box score above which a detection counts as a face (face-api's default).
const SCORE_THRESHOLD = 0.5;
// Growth of a face box's larger side into its crop: 0.2 adds 10 % on each side.
const CROP_MARGIN = 0.2;

let detector = null;
// Every call into the detector goes through this chain: the wasm object allows one call at a
// time while it rebuilds itself.
let chain = Promise.resolve();

function exclusive(task) {
  const result = chain.then(task);
  chain = result.catch(() => {});
  return result;
}

function errorText(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}

// Returns why WebGPU cannot be used, or null when an adapter is available.
async function webgpuProblem() {
  if (!self.navigator.gpu) return 'this browser does not expose WebGPU (navigator.gpu is missing)';
  const adapter = await self.navigator.gpu.requestAdapter().catch(() => null);
  return adapter ? null : 'the browser found no WebGPU adapter';
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`loading the face detector ${url} failed: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function startDetector(inputSize) {
  const [bytes] = await Promise.all([fetchBytes(detectorUrl), init()]);
  const source = 'tiny_face_detector.safetensors';
  let problem = await webgpuProblem();
  if (!problem) {
    try {
      detector = await FaceDetector.create(bytes, source, inputSize);
    } catch (error) {
      problem = errorText(error);
    }
  }
  if (problem) detector = FaceDetector.createCpu(bytes, source, inputSize, problem);
  return { backend: detector.backend, fallbackReason: detector.fallbackReason ?? null };
}

const handlers = {
  // Loads the detector for `inputSize`x`inputSize` input (a multiple of 32).
  async start({ inputSize }) {
    return startDetector(inputSize);
  },
  // Rebuilds the detector for another input size; a smaller one detects faster.
  async inputSize({ inputSize }) {
    return exclusive(() => detector.setInputSize(inputSize));
  },
  // Finds the faces in one RGBA frame (`rgba` is its ArrayBuffer). With a `cropSize`, also cuts
  // the best face's square crop, `cropSize` pixels a side, RGB in [0, 1]. Otherwise `crop` is null.
  async detect({ rgba, width, height, cropSize }) {
    const frame = new Uint8Array(rgba);
    return exclusive(async () => {
      const faces = await detector.detect(frame, width, height, SCORE_THRESHOLD);
      if (!cropSize || faces.length === 0) return { faces, crop: null };
      const crop = await detector.crop(frame, width, height, faces[0], cropSize, CROP_MARGIN);
      return { faces, crop };
    });
  },
};

self.onmessage = async (event) => {
  const { id, type, ...args } = event.data;
  const handler = handlers[type];
  try {
    if (!handler) throw new Error(`unknown request ${type}`);
    if (type !== 'start' && !detector) throw new Error('the face detector is not loaded yet');
    const value = await handler(args);
    self.postMessage({ type: 'reply', id, ok: true, value });
  } catch (error) {
    self.postMessage({ type: 'reply', id, ok: false, error: errorText(error) });
  }
};
