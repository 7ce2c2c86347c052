#!/usr/bin/env node
// Side-by-side benchmark: trains the seed CNN with webcnn (WebGPU, and its CPU path in wasm),
// TensorFlow.js (webgpu, webgl, cpu, wasm backends) and ConvNetJS in one headless Chromium
// session, where the WebGPU systems share one adapter.
// It also measures webcnn's kernels next to the adapter's FMA peak and adds the native figures
// of `cargo bench --bench train`, then writes benchmarks.json, benchmarks.md and benchmarks.svg.
//
// Usage: node bench/browser/run.mjs [--smoke] [--out DIR] [--no-native | --native-json FILE]
//   --smoke        a few steps per system and the small kernel shapes (for the test suite)
//   --out DIR      where the report goes (default docs/)
//   --no-native    skips `cargo bench` (default with --smoke)
//   --native-json  reads the JSON line `cargo bench --bench train -- --json` printed instead
//   --systems LIST only these systems, comma-separated (default: all of SYSTEMS)
// Expects the wasm build in www/pkg/ (scripts/build-web.sh) and bench/browser/node_modules.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { CHROMIUM_ARGS, WEBGPU_ARGS, launchBrowser, watchConsole } from '../../tests/browser/support.mjs';
import { FORWARD_MACS, TRAIN_FLOPS_PER_EXAMPLE } from './measure.js';
import { summarize, writeReport } from './report.mjs';
import { startServer } from './server.mjs';

const repoDir = fileURLToPath(new URL('../../', import.meta.url));

/** Training systems in the order they run; tfjs-wasm may fail (see UNSUPPORTED_OK). */
export const SYSTEMS = [
  'webcnn',
  'webcnn-cpu',
  'tfjs-webgpu',
  'tfjs-webgl',
  'tfjs-cpu',
  'tfjs-wasm',
  'convnetjs',
];
// tfjs's wasm backend registers no Conv2DBackpropFilter kernel, so training a conv net throws.
const UNSUPPORTED_OK = new Set(['tfjs-wasm']);
/** Fields every trained system reports, and the extra ones the webcnn (WebGPU) system reports. */
export const REQUIRED = ['examples_per_second', 'warmup_ms', 'median_step_ms', 'gflops', 'loss'];
export const WEBCNN_REQUIRED = ['dispatches_per_step', 'readbacks_per_step', 'gpu_bytes', 'pipelined_examples_per_second'];

const FULL = {
  batchSize: 64,
  seed: 1,
  minSteps: 6,
  minSeconds: 15,
  maxSteps: 60,
  pipelineSteps: 8,
  pipelineCalls: 2,
  quickKernels: false,
  kernelSeconds: 1,
  systemTimeoutSeconds: 540,
};
const SMOKE = {
  ...FULL,
  minSteps: 1,
  minSeconds: 0,
  maxSteps: 1,
  pipelineSteps: 2,
  pipelineCalls: 1,
  quickKernels: true,
  kernelSeconds: 0,
  // webcnn's first step compiles its pipelines: 50 s on an idle 2-core SwiftShader machine,
  // 140 s while other jobs load it.
  systemTimeoutSeconds: 300,
};

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    uptime: execFileSync('uptime', { encoding: 'utf8' }).trim(),
    load_average: os.loadavg(),
    node: process.version,
  };
}

/** Runs `cargo bench --bench train -- --json` (or reads its saved output) and parses the JSON. */
async function nativeFigures(jsonFile) {
  const load = jsonFile ? null : os.loadavg()[0];
  let text;
  if (jsonFile) {
    text = await readFile(jsonFile, 'utf8');
  } else {
    console.log('running cargo bench --bench train -- --json');
    const run = spawnSync('cargo', ['bench', '--bench', 'train', '--', '--json'], {
      cwd: repoDir,
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (run.status !== 0) throw new Error(`cargo bench failed with status ${run.status}`);
    text = run.stdout;
  }
  const line = text.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error('no JSON line in the output of cargo bench --bench train -- --json');
  const bench = JSON.parse(line);
  return {
    native: {
      adapter: bench.adapter,
      examples_per_second: bench.train_examples_per_second,
      load_average_at_start: load,
    },
    kernels: {
      fma_peak_gflops: bench.fma_peak_gflops,
      conv: bench.conv,
      matmul_size: 1024,
      matmul_gflops: bench.matmul_1024_gflops,
    },
  };
}

/** Opens a fresh page, runs one system in it and closes it. */
async function runInPage(browser, url, system, options) {
  const page = await browser.newPage();
  const errors = watchConsole(page);
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.pageReady === true);
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${system} timed out after ${options.systemTimeoutSeconds} s`)),
        options.systemTimeoutSeconds * 1000,
      );
    });
    const run = page.evaluate(([name, opts]) => window.runSystem(name, opts), [system, options]);
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    const detail = errors.length ? ` (console: ${errors.slice(0, 3).join(' | ')})` : '';
    throw new Error(`${error.message.replace(/^page\.evaluate: /, '')}${detail}`);
  } finally {
    await page.close();
  }
}

// Moves the kernel report of a webcnn run into `report.kernels` and returns the training part.
function takeKernels({ training, kernels }, report, problems) {
  if (kernels.error) {
    report.kernels.error = kernels.error;
    problems.push(`kernels: ${kernels.error}`);
  } else {
    report.kernels.browser = kernels;
    console.log(`kernels: FMA peak ${kernels.fma_peak_gflops.toFixed(1)} GFLOP/s`);
  }
  return training;
}

function elapsed(since) {
  return ((Date.now() - since) / 1000).toFixed(0);
}

/** Names of the required fields of `result` that are missing or not finite numbers. */
export function missingFields(system, result) {
  const fields = system === 'webcnn' ? [...REQUIRED, ...WEBCNN_REQUIRED] : REQUIRED;
  return fields.filter((field) => !Number.isFinite(result?.[field]));
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: resolve(repoDir, 'docs') },
      'no-native': { type: 'boolean', default: false },
      'native-json': { type: 'string' },
      systems: { type: 'string', default: SYSTEMS.join(',') },
    },
  });
  const systems = args.systems.split(',');
  const unknown = systems.filter((system) => !SYSTEMS.includes(system));
  if (unknown.length) {
    throw new Error(`unknown --systems entry ${unknown.join(', ')}: expected some of ${SYSTEMS.join(', ')}`);
  }
  const options = args.smoke ? SMOKE : FULL;
  const machine = machineInfo();
  console.log(`load at start: ${machine.uptime}`);
  const problems = [];
  let native = { native: null, kernels: null };
  if (!args.smoke && !args['no-native']) {
    try {
      native = await nativeFigures(args['native-json']);
    } catch (error) {
      problems.push(`native: ${error.message}`);
    }
  }

  const server = await startServer();
  const browser = await launchBrowser({ webgpu: true });
  const report = {
    generated_at: new Date().toISOString(),
    command: args.smoke ? 'node bench/browser/run.mjs --smoke' : 'bash bench/run.sh',
    smoke: args.smoke,
    options,
    machine: { ...machine, chromium: `Chromium ${browser.version()}`, chromium_args: [...CHROMIUM_ARGS, ...WEBGPU_ARGS] },
    flops: {
      forward_macs_per_example: FORWARD_MACS,
      train_flops_per_example: TRAIN_FLOPS_PER_EXAMPLE,
      formula: '2 FLOPs x 3 passes (forward, input gradient, weight gradient) x forward multiply-adds',
    },
    systems: {},
    kernels: { browser: null, native: native.kernels },
    native: native.native,
  };
  try {
    for (const system of systems) {
      const started = Date.now();
      const load = os.loadavg()[0];
      try {
        const run = await runInPage(browser, server.url, system, options);
        report.machine.adapter ??= run.adapter;
        const result = system === 'webcnn' ? takeKernels(run.result, report, problems) : run.result;
        report.systems[system] = { status: 'ok', ...result, load_average_at_start: load };
        const missing = missingFields(system, result);
        if (missing.length) problems.push(`${system}: missing or non-numeric ${missing.join(', ')}`);
      } catch (error) {
        const status = UNSUPPORTED_OK.has(system) ? 'unsupported' : 'error';
        report.systems[system] = { status, error: error.message };
        if (system === 'webcnn') report.kernels.error = `webcnn failed: ${error.message}`;
        if (status === 'error') problems.push(`${system}: ${error.message}`);
      }
      const r = report.systems[system];
      console.log(
        r.status === 'ok'
          ? `${system}: ${r.examples_per_second.toFixed(1)} examples/s, warm-up ${r.warmup_ms.toFixed(0)} ms (${elapsed(started)} s)`
          : `${system}: ${r.status}: ${r.error.split('\n')[0]} (${elapsed(started)} s)`,
      );
    }
  } finally {
    await browser.close();
    await server.close();
  }
  report.summary = summarize(report);
  await mkdir(args.out, { recursive: true });
  await writeReport(report, args.out);
  console.log(`wrote ${resolve(args.out, 'benchmarks.md')}`);
  if (problems.length) {
    console.error(`benchmark problems:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
