#!/usr/bin/env node
// Kernel-only benchmark: measures webcnn's FMA peak and conv kernels (seed CNN layers at batch 64)
// on headless Chromium's WebGPU adapter, without the training runs of run.mjs. It prints each
// kernel's GFLOP/s and share of the peak with the load average, then the report as one JSON line.
//
// Usage: node bench/browser/kernels.mjs [--seconds S] [--repeat R] [--full]
//   --seconds S  time each kernel for at least S seconds per measurement (default 1)
//   --repeat R   measure everything R times and keep each figure's best (default 1): other jobs
//                on a shared machine slow single measurements down by up to 3x
//   --full       add the 1x256x256x64 conv shape and a 1024^3 matmul (default: 256^3 matmul)
//   --profile    instead, time each dispatch of one seed-cnn training step (batch 64) replayed on
//                its own, and print them in step order with their share of the step
// Expects the wasm build in www/pkg/ (scripts/build-web.sh) and bench/browser/node_modules.

import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';

import { launchBrowser, watchConsole } from '../../tests/browser/support.mjs';
import { startServer } from './server.mjs';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    full: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
if (!(seconds >= 0)) throw new Error(`invalid --seconds ${args.seconds}: expected a number >= 0`);
const repeat = Number(args.repeat);
if (!(Number.isInteger(repeat) && repeat >= 1)) {
  throw new Error(`invalid --repeat ${args.repeat}: expected an integer >= 1`);
}

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const loadBefore = uptime();
const server = await startServer();
const browser = await launchBrowser({ webgpu: true });
let report;
try {
  const page = await browser.newPage();
  const errors = watchConsole(page);
  await page.goto(server.url);
  const measure = args.profile ? profileStep(page, seconds) : measureKernels(page, seconds);
  report = await measure.catch((error) => {
    throw new Error(`measuring the kernels failed: ${error.message} ${errors.join(' | ')}`);
  });
} finally {
  await browser.close();
  await server.close();
}

/** Measures the FMA peak and the kernels `repeat` times in the page; keeps the best figures. */
async function measureKernels(page, minSeconds) {
  const reports = await page.evaluate(
    async ([quick, minSeconds, count]) => {
      const { default: init, Bench } = await import('/pkg/webcnn.js');
      await init();
      const bench = await Bench.create();
      const reports = [];
      for (let i = 0; i < count; i++) reports.push(await bench.kernels(quick, minSeconds));
      return reports;
    },
    [!args.full, minSeconds, repeat],
  );
  return best(reports);
}

/** Times each dispatch of one training step, after two warm-up steps compile the pipelines. */
async function profileStep(page, minSeconds) {
  return page.evaluate(async (minSeconds) => {
    const { default: init, Bench } = await import('/pkg/webcnn.js');
    const { fetchDigitFiles } = await import('/bench/measure.js');
    await init();
    const bench = await Bench.create();
    const [images, labels] = await fetchDigitFiles();
    bench.startTraining(images, labels, 64, 1);
    await bench.train(2);
    const started = performance.now();
    await bench.train(1);
    const stepMs = performance.now() - started;
    return { step_ms: stepMs, dispatches: await bench.profile(minSeconds) };
  }, minSeconds);
}

if (args.profile) {
  const total = report.dispatches.reduce((sum, d) => sum + d.ms, 0);
  console.log(`load before: ${loadBefore}`);
  console.log(`load after:  ${uptime()}`);
  console.log(`one step: ${report.step_ms.toFixed(0)} ms; its ${report.dispatches.length} dispatches alone: ${total.toFixed(0)} ms`);
  for (const d of report.dispatches) {
    console.log(`${d.ms.toFixed(1).padStart(7)} ms ${((100 * d.ms) / total).toFixed(0).padStart(3)} %  ${d.kernel}`);
  }
  console.log(JSON.stringify({ load_before: loadBefore, ...report }));
  process.exit(0);
}

/** Keeps the highest of each GFLOP/s figure over several kernel reports of the same shapes. */
function best(reports) {
  const max = (pick) => Math.max(...reports.map(pick));
  const [first] = reports;
  return {
    ...first,
    measurements: reports.length,
    fma_peak_gflops: max((r) => r.fma_peak_gflops),
    conv: first.conv.map((conv, i) => ({
      shape: conv.shape,
      forward: max((r) => r.conv[i].forward),
      input_grad: max((r) => r.conv[i].input_grad),
      filter_grad: max((r) => r.conv[i].filter_grad),
    })),
    matmul_gflops: max((r) => r.matmul_gflops),
  };
}

const peak = report.fma_peak_gflops;
const share = (gflops) => `${gflops.toFixed(2)} (${((100 * gflops) / peak).toFixed(0)} %)`;
console.log(`load before: ${loadBefore}`);
console.log(`load after:  ${uptime()}`);
console.log(`best of ${repeat}: FMA peak ${peak.toFixed(2)} GFLOP/s`);
for (const conv of report.conv) {
  const cells = [conv.forward, conv.input_grad, conv.filter_grad].map(share);
  console.log(`${conv.shape}: forward ${cells[0]}, input grad ${cells[1]}, filter grad ${cells[2]}`);
}
console.log(`matmul ${report.matmul_size}^3: ${share(report.matmul_gflops)}`);
console.log(JSON.stringify({ load_before: loadBefore, ...report }));
