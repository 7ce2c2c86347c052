// The timing protocol every system of the benchmark goes through, and the shared data helpers.

/**
 * Forward multiply-adds of one 28x28x1 example through the seed CNN (the Keras MNIST CNN):
 * conv 3x3x1->32 valid (26x26 outputs), max-pool 2, conv 3x3x32->64 valid (11x11), max-pool 2,
 * dense 1600->64, dense 64->10.
 */
export const FORWARD_MACS = 26 * 26 * 32 * 9 * 1 + 11 * 11 * 64 * 9 * 32 + 1600 * 64 + 64 * 10;

/**
 * Training FLOPs per example: 2 FLOPs per multiply-add, times 3 for the forward pass, the input
 * gradient and the weight gradient (the usual estimate; the first layer's input gradient and
 * the pooling, activation, loss and optimizer work are not counted).
 */
export const TRAIN_FLOPS_PER_EXAMPLE = 2 * 3 * FORWARD_MACS;

/**
 * Times a training loop. `step(index)` runs one training step, waits until its result is
 * computed (GPU work finished) and resolves to its loss. The first step is the warm-up (it
 * compiles shaders); then steps run until at least `minSteps` have run and `minSeconds` have
 * passed, or `maxSteps` have run.
 * @param {(index: number) => Promise<number>} step
 * @param {{batchSize: number, minSteps: number, minSeconds: number, maxSteps: number}} options
 * @returns {Promise<object>} warm-up and per-step times (ms), throughput and losses
 */
export async function measureSteps(step, { batchSize, minSteps, minSeconds, maxSteps }) {
  const warmupStart = performance.now();
  const firstLoss = await step(0);
  const warmupMs = performance.now() - warmupStart;
  const times = [];
  const losses = [];
  const start = performance.now();
  while (
    times.length < maxSteps &&
    (times.length < minSteps || performance.now() - start < minSeconds * 1000)
  ) {
    const stepStart = performance.now();
    losses.push(await step(times.length + 1));
    times.push(performance.now() - stepStart);
  }
  const medianMs = median(times);
  const examplesPerSecond = (batchSize * 1000) / medianMs;
  return {
    warmup_ms: warmupMs,
    median_step_ms: medianMs,
    min_step_ms: Math.min(...times),
    max_step_ms: Math.max(...times),
    timed_steps: times.length,
    examples_per_second: examplesPerSecond,
    gflops: (examplesPerSecond * TRAIN_FLOPS_PER_EXAMPLE) / 1e9,
    first_loss: firstLoss,
    loss: mean(losses.slice(-5)),
  };
}

/** Median of a non-empty list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function mean(values) {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/**
 * Fetches the gzipped IDX digits (images, labels) the trainer page uses, as bytes.
 * @returns {Promise<[Uint8Array, Uint8Array]>}
 */
export async function fetchDigitFiles() {
  const names = ['mnist-10k-images-idx3-ubyte.gz', 'mnist-10k-labels-idx1-ubyte.gz'];
  return Promise.all(
    names.map(async (name) => {
      const response = await fetch(`/data/${name}`);
      if (!response.ok) throw new Error(`loading /data/${name} failed: HTTP ${response.status}`);
      // The wasm core reads plain IDX only, so gunzip here as the package's fetchIdx does.
      const stream = response.body.pipeThrough(new DecompressionStream('gzip'));
      return new Uint8Array(await new Response(stream).arrayBuffer());
    }),
  );
}

/**
 * Batches of example indices: a seeded shuffle of `count` examples cut into full batches.
 * @returns {(index: number) => Uint32Array} the indices of batch `index`
 */
export function batchSchedule(count, batchSize, seed) {
  let state = seed >>> 0;
  // mulberry32
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const batches = Math.floor(count / batchSize);
  return (index) => {
    const start = (index % batches) * batchSize;
    return order.subarray(start, start + batchSize);
  };
}

/**
 * Loads a classic script (a UMD bundle that sets a global) and waits for it.
 * @param {string} url
 */
export function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`loading ${url} failed`));
    document.head.append(script);
  });
}
