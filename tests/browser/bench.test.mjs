// Smoke run of the side-by-side benchmark (bench/browser/run.mjs --smoke): every system, webcnn's
// CPU path included, trains a step in headless Chromium, and the report must hold every
// system's figures. Keeps the harness from rotting; the measured numbers of a full run live in
// docs/benchmarks.md.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { REQUIRED, SYSTEMS, WEBCNN_REQUIRED, missingFields } from '../../bench/browser/run.mjs';

const runScript = fileURLToPath(new URL('../../bench/browser/run.mjs', import.meta.url));

test('the benchmark smoke run reports every system', { timeout: 900_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'webcnn-bench-'));
  try {
    const started = Date.now();
    const run = await promisify(execFile)(process.execPath, [runScript, '--smoke', '--out', out], {
      maxBuffer: 1 << 24,
    }).catch((error) => error);
    console.log(`smoke run took ${((Date.now() - started) / 1000).toFixed(0)} s:\n${run.stdout}`);
    assert.equal(run.code ?? 0, 0, `run.mjs --smoke failed:\n${run.stderr}`);

    const report = JSON.parse(await readFile(join(out, 'benchmarks.json'), 'utf8'));
    assert.deepEqual(Object.keys(report.systems), SYSTEMS);
    for (const system of SYSTEMS) {
      const result = report.systems[system];
      if (system === 'tfjs-wasm' && result.status === 'unsupported') {
        assert.match(result.error, /Conv2DBackpropFilter/, 'tfjs-wasm failed for another reason');
        continue;
      }
      assert.equal(result.status, 'ok', `${system}: ${result.error}`);
      assert.deepEqual(missingFields(system, result), [], `${system} lacks fields`);
      assert.ok(result.examples_per_second > 0, `${system}: ${result.examples_per_second} examples/s`);
      assert.ok(result.loss > 0, `${system}: loss ${result.loss}`);
    }
    const webcnn = report.systems.webcnn;
    assert.ok(webcnn.dispatches_per_step >= 10, `webcnn dispatched ${webcnn.dispatches_per_step} per step`);
    assert.equal(webcnn.readbacks_per_step, 1, 'webcnn reads back once per synchronised step');
    assert.ok(webcnn.gpu_bytes > 0, 'webcnn allocated no GPU buffers');
    const webcnnCpu = report.systems['webcnn-cpu'];
    assert.equal(webcnnCpu.backend, 'cpu', 'webcnn-cpu trained on another backend');
    assert.equal(webcnnCpu.gpu_bytes, undefined, 'webcnn-cpu reports GPU bytes');
    assert.ok(report.summary.speedup_over_fastest_peer > 0, 'no webcnn speed-up in the summary');
    assert.ok(report.summary.cpu_speedup_over_fastest_peer > 0, 'no webcnn-cpu speed-up in the summary');

    const kernels = report.kernels.browser;
    assert.ok(kernels?.fma_peak_gflops > 0, `no FMA peak: ${report.kernels.error}`);
    assert.equal(kernels.conv.length, 2, 'the smoke run measures the seed CNN conv shapes');
    for (const conv of kernels.conv) {
      for (const field of ['forward', 'input_grad', 'filter_grad']) {
        assert.ok(conv[field] > 0, `${conv.shape} ${field}: ${conv[field]}`);
      }
    }
    assert.equal(report.machine.adapter?.architecture, 'swiftshader', 'not the SwiftShader adapter');

    const markdown = await readFile(join(out, 'benchmarks.md'), 'utf8');
    for (const system of SYSTEMS) assert.match(markdown, new RegExp(`^\\| ${system} \\|`, 'm'));
    assert.match(markdown, /^\| webcnn-cpu \|.*\| CPU \| - \| - \|/m, 'webcnn-cpu row without CPU in GPU bytes');
    assert.match(markdown, /^- webcnn trains \d+\.\d\dx as fast as the fastest peer/m);
    assert.match(markdown, /^- webcnn's CPU path \(webcnn-cpu\) trains \d+\.\d\dx as fast as the fastest peer/m);
    assert.match(await readFile(join(out, 'benchmarks.svg'), 'utf8'), /^<svg /);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('a result without a required field is reported', () => {
  const complete = Object.fromEntries([...REQUIRED, ...WEBCNN_REQUIRED].map((field) => [field, 1]));
  assert.deepEqual(missingFields('webcnn', complete), []);
  assert.deepEqual(missingFields('webcnn', { ...complete, gpu_bytes: undefined }), ['gpu_bytes']);
  assert.deepEqual(missingFields('tfjs-cpu', { ...complete, loss: Number.NaN }), ['loss']);
  const common = Object.fromEntries(REQUIRED.map((field) => [field, 1]));
  assert.deepEqual(missingFields('webcnn-cpu', common), [], 'webcnn-cpu needs no GPU fields');
});
