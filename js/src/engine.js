// Worker side of a training worker, shared by the trainer page (www/src/worker.js) and the npm
// package (js/src/worker.js): opens the wasm Trainer on WebGPU or the CPU, serialises calls into
// it, runs training a few steps per call, and handles requests.
//
// Requests: {id, type, ...}. Replies: {type: 'reply', id, ok, value | error}. Events without an
// id: {type: 'progress' | 'epoch' | 'finished' | 'failed', ...}; 'progress' and 'epoch' carry
// `batches`, the {batch, loss, accuracy} of each step the Trainer.run call ran.

// Wall time one Trainer.run call aims at. On the CPU the call blocks the worker, so this bounds
// how long a message waits. On WebGPU the worker handles messages while it awaits the GPU, and
// longer calls only spend less time per step on reading the metrics back.
const TARGET_CALL_SECONDS = 0.1;
const MAX_STEPS_PER_CALL = 64;

/** Returns the message of an error thrown by wasm or JS. */
export function errorText(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Posts a message to the page. */
export function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

/**
 * Requests a WebGPU adapter. Resolves to {adapter, problem}: the adapter, or null and the
 * reason WebGPU cannot be used.
 */
export async function requestAdapter() {
  if (!self.navigator.gpu) {
    return { adapter: null, problem: 'this browser does not expose WebGPU (navigator.gpu is missing)' };
  }
  const adapter = await self.navigator.gpu.requestAdapter().catch(() => null);
  return { adapter, problem: adapter ? null : 'the browser found no WebGPU adapter' };
}

/**
 * Creates a wasm `Trainer` on WebGPU, or on the CPU when the browser has no usable adapter.
 * `loadCore(backend)` resolves to the initialised wasm module that trains on `backend`
 * ('webgpu' or 'cpu'): the pages pass one module for both, and the npm package a core for each,
 * so that a browser downloads only the one it uses. Returns {trainer, core, backend, adapter,
 * fallbackReason}, where `core` is the module of the trainer.
 */
export async function openTrainer(loadCore) {
  const { adapter, problem } = await requestAdapter();
  let gpuProblem = problem;
  let trainer = null;
  let core = null;
  // wgpu's WebGPU backend leaves its adapter info empty, so describe the adapter here.
  const info = adapter?.info ?? {};
  const adapterName = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  if (!gpuProblem) {
    // A core that fails to load rejects here: only a failed device request falls back.
    core = await loadCore('webgpu');
    try {
      trainer = await core.Trainer.create();
    } catch (error) {
      gpuProblem = errorText(error);
    }
  }
  if (gpuProblem) {
    core = await loadCore('cpu');
    trainer = core.Trainer.createCpu(gpuProblem);
  }
  return {
    trainer,
    core,
    backend: trainer.backend,
    adapter: trainer.backend === 'webgpu' ? adapterName || 'unnamed adapter' : trainer.adapter,
    fallbackReason: trainer.fallbackReason ?? null,
  };
}

/**
 * Drives one wasm Trainer: `exclusive` runs one call at a time (the wasm object allows no
 * other), and `train`, `pause`, `resume` and `stop` control a loop of Trainer.run calls that
 * posts 'progress', 'epoch', 'finished' and 'failed' events.
 */
export class TrainerDriver {
  constructor(trainer) {
    this.trainer = trainer;
    this.running = false;
    this.stepsPerCall = 1;
    this.chain = Promise.resolve();
  }

  /** Runs `task` after every earlier call into the trainer has finished. */
  exclusive(task) {
    const result = this.chain.then(task);
    this.chain = result.catch(() => {});
    return result;
  }

  /** Starts a run with Trainer.start `settings` and returns its info. */
  async train(settings) {
    if (this.running) throw new Error('training is already running');
    const info = await this.exclusive(() => this.trainer.start(settings));
    this.stepsPerCall = 1;
    this.running = true;
    this.loop();
    return info;
  }

  pause() {
    this.running = false;
  }

  resume() {
    if (!this.trainer.hasModel) throw new Error('there is no training run to resume');
    if (!this.running) {
      this.running = true;
      this.loop();
    }
  }

  async stop() {
    this.running = false;
    await this.exclusive(() => this.trainer.stop());
  }

  // Calls Trainer.run until the run ends, a pause, or an error stops it.
  async loop() {
    while (this.running) {
      const started = performance.now();
      let result;
      try {
        result = await this.exclusive(() => this.trainer.run(this.stepsPerCall));
      } catch (error) {
        this.running = false;
        console.warn(`training failed: ${errorText(error)}`);
        post({ type: 'failed', error: errorText(error) });
        return;
      }
      const seconds = (performance.now() - started) / 1000;
      if (result.kind === 'steps') {
        const perStep = seconds / this.stepsPerCall;
        const steps = Math.round(TARGET_CALL_SECONDS / perStep);
        this.stepsPerCall = Math.max(1, Math.min(MAX_STEPS_PER_CALL, steps));
        post({ type: 'progress', progress: result.progress, batches: result.batches });
      } else if (result.kind === 'epoch') {
        post({ type: 'epoch', report: result.report, batches: result.batches });
      } else {
        this.running = false;
        post({ type: 'finished' });
      }
    }
  }
}

/** Handles the page's requests with `handlers[type](args)` and posts the replies. */
export function serve(handlers) {
  self.onmessage = async (event) => {
    const { id, type, ...args } = event.data;
    const handler = handlers[type];
    try {
      if (!handler) throw new Error(`unknown request ${type}`);
      const value = await handler(args);
      post({ type: 'reply', id, ok: true, value });
    } catch (error) {
      post({ type: 'reply', id, ok: false, error: errorText(error) });
    }
  };
}

/** Fetches an IDX file, plain or gzipped, as plain bytes: the wasm core has no gzip decoder, so
 * the browser's DecompressionStream decompresses input that starts with the gzip magic bytes. */
export async function fetchIdx(url) {
  const bytes = await fetchBytes(url);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    // NOTE: Chromium 156 also rejects multi-member gzip (concatenated streams), which the native
    // reader accepts.
    throw new Error(
      `cannot decompress ${url}: ${errorText(error)}; the gzip data is corrupt or has several members, ` +
        'so download the file again or recompress it as one gzip stream',
    );
  }
}

/** Fetches `url` as bytes; raises with the HTTP status on failure. */
export async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`loading ${url} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
