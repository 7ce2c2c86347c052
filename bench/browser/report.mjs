// Turns the harness's measurements into docs/benchmarks.json, docs/benchmarks.md and the bar
// chart docs/benchmarks.svg.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Table text per training system: what ran. */
export const DESCRIPTIONS = {
  webcnn: 'webcnn (wasm + WebGPU), seed-cnn, Adam',
  'webcnn-cpu': 'webcnn CPU path (wasm, one thread, Trainer.createCpu), seed-cnn, Adam',
  'tfjs-webgpu': 'TensorFlow.js, webgpu backend, trainOnBatch, Adam',
  'tfjs-webgl': 'TensorFlow.js, webgl backend, trainOnBatch, Adam',
  'tfjs-cpu': 'TensorFlow.js, cpu backend (plain JS), trainOnBatch, Adam',
  'tfjs-wasm': 'TensorFlow.js, wasm backend',
  convnetjs: 'ConvNetJS 0.3.0 (CPU, per example), same layers, Adam applied by the harness',
};

const PEERS = ['tfjs-webgpu', 'tfjs-webgl', 'tfjs-cpu', 'tfjs-wasm', 'convnetjs'];

const fixed = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const integer = (value) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const mib = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '-');

/**
 * Compares the run with the targets and returns the speed-up of each webcnn path (WebGPU and
 * CPU) over the fastest peer, and the lowest and highest share of the FMA peak that webcnn's
 * conv kernels reach.
 * @param {object} report the benchmark report without `summary`
 */
export function summarize(report) {
  const peers = PEERS.map((name) => [name, report.systems[name]]).filter(
    ([, result]) => result?.status === 'ok',
  );
  const [fastestName, fastest] = peers.reduce(
    (best, entry) => (entry[1].examples_per_second > (best[1]?.examples_per_second ?? 0) ? entry : best),
    [null, null],
  );
  const speedup = (system) =>
    system?.status === 'ok' && fastest ? system.examples_per_second / fastest.examples_per_second : null;
  const kernels = report.kernels.browser;
  const shares = kernels?.conv.flatMap((row) =>
    ['forward', 'input_grad', 'filter_grad'].map((kind) => row[kind] / kernels.fma_peak_gflops),
  );
  return {
    fastest_peer: fastestName,
    speedup_over_fastest_peer: speedup(report.systems.webcnn),
    cpu_speedup_over_fastest_peer: speedup(report.systems['webcnn-cpu']),
    speedup_target: 4,
    conv_min_share_of_peak: shares ? Math.min(...shares) : null,
    conv_max_share_of_peak: shares ? Math.max(...shares) : null,
    conv_share_target: 0.25,
  };
}

function trainingTable(report) {
  const rows = [
    '| system | what ran | warm-up (ms) | median step (ms) | examples/s | GFLOP/s | loss (last 5 steps) | GPU bytes | dispatches / step | readbacks / step | load |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [name, r] of Object.entries(report.systems)) {
    if (r.status !== 'ok') {
      rows.push(`| ${name} | ${DESCRIPTIONS[name]} | ${r.status}: ${r.error.split('\n')[0].slice(0, 160)} | | | | | | | | |`);
      continue;
    }
    rows.push(
      `| ${name} | ${DESCRIPTIONS[name]} | ${integer(r.warmup_ms)} | ${integer(r.median_step_ms)} | ` +
        `${fixed(r.examples_per_second)} | ${fixed(r.gflops, 2)} | ${fixed(r.loss, 3)} | ` +
        `${r.gpu_bytes == null ? 'CPU' : mib(r.gpu_bytes)} | ${fixed(r.dispatches_per_step, 0)} | ` +
        `${fixed(r.readbacks_per_step, 2)} | ${fixed(r.load_average_at_start, 1)} |`,
    );
  }
  const native = report.native;
  if (native?.examples_per_second) {
    rows.push(
      `| webcnn native | the CLI's core on ${native.adapter} (\`cargo bench --bench train\`), seed-cnn, Adam | | | ` +
        `${fixed(native.examples_per_second)} | ${fixed((native.examples_per_second * report.flops.train_flops_per_example) / 1e9, 2)} | | | | | ${fixed(native.load_average_at_start, 1)} |`,
    );
  }
  return rows.join('\n');
}

function kernelTable(report) {
  const browser = report.kernels.browser;
  const native = report.kernels.native;
  if (!browser) {
    return report.kernels.error
      ? `Browser kernels failed: ${report.kernels.error}`
      : 'Browser kernels not measured: they run after the webcnn system, which this run left out.';
  }
  const rows = [
    '| kernel | browser GFLOP/s | share of browser peak | native GFLOP/s | share of native peak |',
    '|---|---|---|---|---|',
  ];
  const row = (name, value, nativeValue) =>
    rows.push(
      `| ${name} | ${fixed(value, 2)} | ${fixed((100 * value) / browser.fma_peak_gflops, 0)}% | ` +
        `${fixed(nativeValue, 2)} | ${native ? `${fixed((100 * nativeValue) / native.fma_peak_gflops, 0)}%` : '-'} |`,
    );
  row('FMA peak (shaders/peak.wgsl)', browser.fma_peak_gflops, native?.fma_peak_gflops);
  for (const conv of browser.conv) {
    const nativeConv = native?.conv?.find((c) => c.shape === conv.shape);
    for (const [kind, label] of [['forward', 'forward'], ['input_grad', 'input gradient'], ['filter_grad', 'filter gradient']]) {
      row(`${conv.shape}, ${label}`, conv[kind], nativeConv?.[kind]);
    }
  }
  const nativeMatmul = native?.matmul_size === browser.matmul_size ? native.matmul_gflops : undefined;
  row(`matmul ${browser.matmul_size}^3`, browser.matmul_gflops, nativeMatmul);
  return rows.join('\n');
}

/**
 * Draws a horizontal bar chart (SVG text) of examples/s per system.
 * @param {object} report
 */
export function chart(report) {
  const bars = Object.entries(report.systems)
    .filter(([, r]) => r.status === 'ok')
    .map(([name, r]) => [name, r.examples_per_second]);
  if (report.native?.examples_per_second) bars.push(['webcnn native', report.native.examples_per_second]);
  const width = 640;
  const left = 130;
  const barHeight = 24;
  const height = 40 + bars.length * (barHeight + 8);
  const max = Math.max(...bars.map(([, value]) => value), 1);
  const scale = (width - left - 90) / max;
  const items = bars.map(([name, value], i) => {
    const y = 30 + i * (barHeight + 8);
    const color = name.startsWith('webcnn') ? '#2b6cb0' : '#a0aec0';
    return (
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${name}</text>` +
      `<rect x="${left}" y="${y}" width="${Math.max(1, value * scale).toFixed(1)}" height="${barHeight}" fill="${color}"/>` +
      `<text x="${(left + value * scale + 6).toFixed(1)}" y="${y + 16}">${value.toFixed(1)}</text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="18" font-weight="bold">seed-cnn training, batch 64, Adam: examples/s (higher is better)</text>`,
    ...items,
    '</svg>',
    '',
  ].join('\n');
}

// One Targets line: how many times as fast as the fastest peer `subject` trains.
function speedupLine(subject, speedup, summary) {
  let verdict = 'not measured';
  if (speedup != null) verdict = speedup >= summary.speedup_target ? 'met' : 'not met';
  return `- ${subject} trains ${speedup == null ? '-' : `${speedup.toFixed(2)}x`} as fast as the fastest peer in this run (${summary.fastest_peer ?? 'none'}); the target is ${summary.speedup_target}x or more: ${verdict}.`;
}

function markdown(report) {
  const { machine, summary } = report;
  const lines = [
    '# Benchmarks',
    '',
    `Training the Keras MNIST CNN (\`seed-cnn\`: conv 32 3x3 relu, max-pool 2, conv 64 3x3 relu, max-pool 2, dense 64 relu, dense 10 softmax) with batch ${report.options.batchSize} and Adam (learning rate 0.001) on the embedded MNIST digits, every system in one headless Chromium session, the WebGPU systems on the same adapter. Generated by \`${report.command}\` on ${report.generated_at}${report.smoke ? ' (smoke run: a few steps per system, not a measurement)' : ''}.`,
    '',
    '![examples/s per system](benchmarks.svg)',
    '',
    '## Training',
    '',
    trainingTable(report),
    '',
    `How it is measured: the first step is the warm-up (on WebGPU it includes shader compilation). Then each system runs at least ${report.options.minSteps} steps and for at least ${report.options.minSeconds} s (at most ${report.options.maxSteps} steps); the median step time gives examples/s. Every step ends when its result is on the CPU: webcnn reads its loss back from the GPU after each timed step, webcnn-cpu's \`Trainer.run(1)\` returns after the step with its loss, and tfjs's \`trainOnBatch\` reads the loss back too. GFLOP/s uses ${(report.flops.train_flops_per_example / 1e6).toFixed(2)} MFLOP per example: ${report.flops.formula}. The loss is the mean training loss of the last 5 timed steps (models start from different random weights). GPU bytes: webcnn's buffer pool; tfjs's \`tf.memory()\` (bytes allocated on the GPU); CPU for a system that trains on the CPU and allocates no GPU memory (webcnn-cpu, tfjs-cpu, ConvNetJS). Load: the 1-minute load average when the system started, because other jobs shared the cores.`,
    '',
    report.systems.webcnn?.status === 'ok'
      ? `webcnn pipelined: ${report.options.pipelineCalls} calls of ${report.options.pipelineSteps} steps with one readback each ran ${fixed(report.systems.webcnn.pipelined_examples_per_second)} examples/s (${fixed(report.systems.webcnn.pipelined_step_ms, 0)} ms per step, ${fixed(report.systems.webcnn.pipelined_readbacks_per_step, 2)} readbacks per step); the trainer page trains this way.`
      : '',
    '',
    '## Targets',
    '',
    speedupLine('webcnn', summary.speedup_over_fastest_peer, summary),
    speedupLine("webcnn's CPU path (webcnn-cpu)", summary.cpu_speedup_over_fastest_peer, summary),
    `- webcnn's conv kernels reach ${summary.conv_min_share_of_peak == null ? '-' : `${(100 * summary.conv_min_share_of_peak).toFixed(0)}% to ${(100 * summary.conv_max_share_of_peak).toFixed(0)}%`} of the FMA peak measured on the same adapter; the target is 25% or more for each: ${summary.conv_min_share_of_peak == null ? 'not measured' : summary.conv_min_share_of_peak >= summary.conv_share_target ? 'met' : 'not met'}.`,
    '',
    '## Kernels',
    '',
    `GFLOP/s of webcnn's kernels (2 FLOPs per multiply-add), each repeated for at least ${report.options.kernelSeconds} s after one warm-up run and timed to GPU completion (runs recorded in batches of about 50 ms, with one readback per batch), beside the FMA peak of shaders/peak.wgsl on the same adapter. The browser kernels run in the webcnn page after its training, on the same device. The browser column runs on Chromium's WebGPU adapter, the native column on ${report.native?.adapter ?? 'the native adapter'} (\`cargo bench --bench train\`).`,
    '',
    kernelTable(report),
    '',
    '## Machine',
    '',
    `- CPU: ${machine.cpu}, ${machine.cores} cores; ${machine.os}`,
    `- Load at start: \`${machine.uptime}\``,
    `- Browser: ${machine.chromium} (headless, WebGPU through SwiftShader: \`${machine.chromium_args.join(' ')}\`)`,
    `- WebGPU adapter: ${JSON.stringify(machine.adapter)}`,
    `- Node.js ${machine.node}; TensorFlow.js ${report.systems['tfjs-webgl']?.version ?? '4.22.0'}; ConvNetJS 0.3.0`,
    '',
    'The machine has no GPU: SwiftShader and lavapipe emulate one on the CPU, so these figures do not predict the speed on a real GPU. Other jobs shared the cores during the run (see the load above), so the times vary between runs.',
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes benchmarks.json, benchmarks.md and benchmarks.svg into `dir`.
 * @param {object} report
 * @param {string} dir
 */
export async function writeReport(report, dir) {
  await writeFile(join(dir, 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(dir, 'benchmarks.md'), markdown(report));
  await writeFile(join(dir, 'benchmarks.svg'), chart(report));
}
