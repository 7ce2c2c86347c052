// Feeds the page bad input after a short training run: corrupt, truncated and foreign model
// files, batch size 0, brightness above 1 and a layer list that shrinks the image below 1x1.
// Each must give a clear message and keep the trained model and the list of runs. Last, a
// learning rate far too high must bring a warning that training is diverging.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { byTestId, launchBrowser, startServer } from './support.mjs';

let server;
let browser;
let page;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ webgpu: process.env.WEBCNN_TEST_BACKEND !== 'cpu' });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

// A safetensors file in the webcnn format whose model takes 32x32x3 images.
function modelFileForOtherShape() {
  const config = {
    input_shape: [32, 32, 3],
    layers: [{ type: 'flatten' }, { type: 'dense', units: 10, activation: 'softmax' }],
  };
  const kernelBytes = 32 * 32 * 3 * 10 * 4;
  const header = {
    __metadata__: { format: 'webcnn', version: '1', config: JSON.stringify(config) },
    'layers.1.kernel': { dtype: 'F32', shape: [3072, 10], data_offsets: [0, kernelBytes] },
    'layers.1.bias': { dtype: 'F32', shape: [10], data_offsets: [kernelBytes, kernelBytes + 40] },
  };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const file = Buffer.alloc(8 + json.length + kernelBytes + 40);
  file.writeBigUInt64LE(BigInt(json.length), 0);
  file.write(json, 8, 'utf8');
  return file;
}

async function errorText() {
  const banner = page.locator(byTestId('error'));
  await banner.waitFor({ state: 'visible', timeout: 60_000 });
  const text = await banner.textContent();
  await banner.locator('.error-close').click();
  return text;
}

async function loadFile(name, buffer) {
  await page.setInputFiles(byTestId('load-file'), { name, mimeType: 'application/octet-stream', buffer });
}

async function snapshot() {
  return {
    accuracy: await page.textContent(byTestId('test-accuracy')),
    runs: await page.locator(`${byTestId('runs')} li`).count(),
    model: await page.evaluate(async () => (await window.webcnnClient.request('evaluate')).accuracy),
  };
}

test('bad input keeps the model and runs', async (t) => {
  // A flatten + dense model trains one epoch in seconds.
  for (let i = 0; i < 4; i++) await page.click(byTestId('remove-layer-0'));
  await page.fill(byTestId('epochs'), '1');
  await page.click(byTestId('train-button'));
  await page.waitForFunction(
    () => document.querySelector('[data-testid="test-accuracy"]').dataset.value,
    null,
    { timeout: 600_000 },
  );
  const trained = await snapshot();
  assert.ok(Number.parseFloat(trained.accuracy) > 80, `the small model reached only ${trained.accuracy} %`);
  assert.equal(trained.runs, 1);

  const [download] = await Promise.all([page.waitForEvent('download'), page.click(byTestId('download'))]);
  const { readFile } = await import('node:fs/promises');
  const saved = await readFile(await download.path());

  await t.test('corrupt model file', async () => {
    await loadFile('corrupt.safetensors', Buffer.from('this is not a model file, only text'));
    assert.match(await errorText(), /invalid model file corrupt\.safetensors/);
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('truncated model file', async () => {
    await loadFile('truncated.safetensors', saved.subarray(0, Math.floor(saved.length / 2)));
    assert.match(await errorText(), /invalid model file truncated\.safetensors.*truncated/s);
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('model for another input shape', async () => {
    await loadFile('colour.safetensors', modelFileForOtherShape());
    assert.match(await errorText(), /invalid model file colour\.safetensors.*\[32, 32, 3\]/s);
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('batch size 0', async () => {
    await page.fill(byTestId('batch-size'), '0');
    await page.click(byTestId('train-button'));
    assert.match(await errorText(), /batch size must be at least 1, got 0/);
    await page.fill(byTestId('batch-size'), '32');
    assert.deepEqual(await snapshot(), trained);
  });

  // A negative count reached the worker's JSON parser, whose message named a usize.
  await t.test('negative epochs', async () => {
    await page.fill(byTestId('epochs'), '-3');
    await page.click(byTestId('train-button'));
    assert.match(await errorText(), /epochs must be at least 1, got -3/);
    await page.fill(byTestId('epochs'), '1');
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('brightness above 1', async () => {
    // With flip on too, so the worker must accept the flip field to reach the range check.
    await page.check(byTestId('augment-flip'));
    await page.fill(byTestId('augment-brightness'), '1.5');
    await page.click(byTestId('train-button'));
    assert.match(await errorText(), /augmentation brightness must be between 0 and 1, got 1\.5/);
    await page.fill(byTestId('augment-brightness'), '0');
    await page.uncheck(byTestId('augment-flip'));
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('layer list that shrinks the image below 1x1', async () => {
    await page.selectOption(byTestId('preset'), 'seed-cnn');
    await page.waitForSelector(`${byTestId('layer-editor')} tbody tr:nth-child(7)`);
    // seed-cnn ends its convolutions at 5x5; three more 2x2 poolings leave less than 1x1.
    for (let i = 0; i < 3; i++) await page.click('[data-add="max_pool2d"]');
    const message = page.locator(byTestId('model-error'));
    await message.waitFor({ state: 'visible' });
    assert.match(await message.textContent(), /shrinks below 1x1/);
    await page.uncheck(byTestId('continue'));
    await page.click(byTestId('train-button'));
    assert.match(await errorText(), /layer list is invalid.*shrinks below 1x1/s);
    assert.deepEqual(await snapshot(), trained);
  });

  await t.test('saved file loads back', async () => {
    await loadFile('saved.safetensors', saved);
    await page.waitForFunction(() => document.querySelector('[data-testid="progress-text"]').textContent.startsWith('Loaded'));
    assert.ok(await page.isHidden(byTestId('error')));
    assert.deepEqual(await snapshot(), trained);
  });
});

test('diverging loss shows a warning', async () => {
  // Adam at a learning rate of 10 sends the small model's loss far above ln 10, the loss of a
  // uniform guess, in one epoch but keeps it finite (137.8 with the CLI on lavapipe).
  await page.selectOption(byTestId('preset'), 'seed-cnn');
  await page.waitForSelector(`${byTestId('layer-editor')} tbody tr:nth-child(7)`);
  for (let i = 0; i < 4; i++) await page.click(byTestId('remove-layer-0'));
  if (await page.isChecked(byTestId('continue'))) await page.uncheck(byTestId('continue'));
  await page.selectOption(byTestId('optimizer'), 'adam');
  await page.fill(byTestId('learning-rate'), '10');
  await page.fill(byTestId('epochs'), '1');
  await page.click(byTestId('train-button'));
  const warning = page.locator(byTestId('diverging'));
  await warning.waitFor({ state: 'visible', timeout: 600_000 });
  assert.match(await warning.textContent(), /the loss \d+\.\d{4} is over 4 times 2\.30.*lower the learning rate/);
  assert.ok(await page.isHidden(byTestId('error')));
});
