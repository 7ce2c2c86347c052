// Trains the default model in the page, on WebGPU (SwiftShader) and on the CPU path. Checks the
// test accuracy, that the main thread keeps drawing frames and that the console stays clean.
// On WebGPU it also checks that no GPU buffer is created after the first epoch.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  MAIN_THREAD_PROBE,
  byTestId,
  launchBrowser,
  startServer,
  watchConsole,
} from './support.mjs';

// A default run takes minutes on SwiftShader or the CPU of a small CI machine.
const TRAINING_TIMEOUT_MS = 40 * 60 * 1000;
const MIN_TEST_ACCURACY_PERCENT = 97;
const MAX_MAIN_THREAD_TASK_MS = 100;
// The frame counter is sampled this often, and must advance between samples.
const FRAME_SAMPLE_MS = 2000;

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

async function openPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.addInitScript(MAIN_THREAD_PROBE);
  const errors = watchConsole(page);
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return { page, errors };
}

// Clicks Train with the default settings and waits for the test accuracy. Samples the frame
// counter meanwhile and returns the samples that did not advance.
async function trainWithDefaults(page) {
  // Page start-up (parsing, first layout) is not part of the check.
  await page.evaluate(() => {
    window.__probe.longTasks = [];
    window.__probe.maxFrameGap = 0;
  });
  await page.click(byTestId('train-button'));
  const stalls = [];
  let frames = await page.evaluate(() => window.__probe.frames);
  const deadline = Date.now() + TRAINING_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await page.waitForTimeout(FRAME_SAMPLE_MS);
    const now = await page.evaluate(() => window.__probe.frames);
    if (now <= frames) stalls.push({ at: new Date().toISOString(), frames: now });
    frames = now;
    const done = await page.$eval(byTestId('test-accuracy'), (element) => element.dataset.value);
    if (done) return stalls;
    const error = await page.$eval(byTestId('error'), (element) => (element.hidden ? '' : element.textContent));
    assert.equal(error.trim(), '', 'the page shows an error while training');
  }
  throw new Error(`no test accuracy after ${TRAINING_TIMEOUT_MS / 60000} minutes`);
}

async function testAccuracyPercent(page) {
  const text = await page.textContent(byTestId('test-accuracy'));
  const value = Number.parseFloat(text);
  assert.ok(Number.isFinite(value), `test-accuracy shows "${text}", not a number`);
  return value;
}

async function epochBuffers(page) {
  return page.$$eval(`${byTestId('epoch-log')} li`, (items) =>
    items.map((item) => ({ count: Number(item.dataset.buffersCount), bytes: Number(item.dataset.buffersBytes) })),
  );
}

// Checks what both backends must give: the accuracy, frames drawn throughout, no long
// main-thread task and a clean console.
function assertTrainedSmoothly({ accuracy, stalls, probe, errors }) {
  assert.ok(accuracy >= MIN_TEST_ACCURACY_PERCENT, `test accuracy ${accuracy} % is below ${MIN_TEST_ACCURACY_PERCENT} %`);
  assert.deepEqual(stalls, [], 'the animation frame counter stopped while training');
  const longest = Math.max(0, ...probe.longTasks);
  assert.ok(
    longest <= MAX_MAIN_THREAD_TASK_MS,
    `a main-thread task took ${longest} ms; long frames: ${JSON.stringify(probe.longFrames)}`,
  );
  assert.deepEqual(errors, [], 'the console has errors');
}

async function examplesPerSecond(page) {
  return page.$eval(byTestId('progress-text'), (element) => Number(element.dataset.examplesPerSecond));
}

test('default training on WebGPU reaches 97 % test accuracy', async () => {
  const browser = await launchBrowser({ webgpu: true });
  try {
    const { page, errors } = await openPage(browser);
    assert.match(await page.textContent(byTestId('backend')), /WebGPU/);
    assert.ok(await page.isHidden(byTestId('notice')), 'the CPU notice shows although WebGPU works');

    const started = Date.now();
    const stalls = await trainWithDefaults(page);
    const accuracy = await testAccuracyPercent(page);
    const probe = await page.evaluate(() => window.__probe);
    const buffers = await epochBuffers(page);
    console.log(
      `WebGPU: test accuracy ${accuracy} % in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
        `${await examplesPerSecond(page)} examples/s, ${probe.frames} frames, ` +
        `longest frame gap ${probe.maxFrameGap.toFixed(0)} ms, buffers per epoch ${JSON.stringify(buffers)}`,
    );

    assertTrainedSmoothly({ accuracy, stalls, probe, errors });
    assert.ok(buffers.length >= 2, `only ${buffers.length} epochs were logged`);
    assert.deepEqual(buffers.at(-1), buffers[0], 'GPU buffers were created after the first epoch');
  } finally {
    await browser.close();
  }
});

test('default training without WebGPU runs on the CPU', async () => {
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openPage(browser);
    assert.match(await page.textContent(byTestId('backend')), /CPU/);
    assert.ok(await page.isVisible(byTestId('notice')), 'no notice says that the page trains on the CPU');
    assert.match(await page.textContent(byTestId('notice')), /WebGPU is not available/);

    const started = Date.now();
    const stalls = await trainWithDefaults(page);
    const accuracy = await testAccuracyPercent(page);
    const probe = await page.evaluate(() => window.__probe);
    console.log(
      `CPU: test accuracy ${accuracy} % in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
        `${await examplesPerSecond(page)} examples/s, longest frame gap ${probe.maxFrameGap.toFixed(0)} ms`,
    );

    assertTrainedSmoothly({ accuracy, stalls, probe, errors });
  } finally {
    await browser.close();
  }
});
