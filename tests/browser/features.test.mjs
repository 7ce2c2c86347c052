// Walks through the page's features with a small model on WebGPU: augmentation, pause and
// resume, the result views, the draw pad, filter and activation views, saving to IndexedDB,
// reloading, loading the saved model back and training it further.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { byTestId, launchBrowser, startServer, watchConsole } from './support.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ webgpu: true });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function waitReady(page) {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
}

async function waitForTestAccuracy(page) {
  await page.waitForFunction(
    () => document.querySelector('[data-testid="test-accuracy"]').dataset.value,
    null,
    { timeout: 900_000, polling: 500 },
  );
  return Number.parseFloat(await page.textContent(byTestId('test-accuracy')));
}

async function progressValue(page) {
  return page.$eval(byTestId('progress'), (element) => element.value);
}

test('page features on a small model', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(server.url);
  await waitReady(page);

  // seed-cnn without its second conv and pool layers: conv(32), pool, flatten, dense, dense.
  await page.click(byTestId('remove-layer-2'));
  await page.click(byTestId('remove-layer-2'));
  await page.fill(byTestId('epochs'), '1');
  for (const id of ['augment-rotation', 'augment-translation', 'augment-scaling']) await page.check(byTestId(id));
  // Flip stays off, because with it a native run of this model for one epoch reached 87.8 %,
  // below the 90 % checked below.
  await page.fill(byTestId('augment-brightness'), '0.2');

  await t.test('pause and resume', async () => {
    await page.click(byTestId('train-button'));
    await page.waitForFunction(() => document.querySelector('[data-testid="progress"]').value > 0.05, null, {
      timeout: 300_000,
    });
    await page.click(byTestId('pause-button'));
    await page.waitForFunction(() => document.querySelector('[data-testid="progress-text"]').textContent.includes('paused'));
    // A run call in flight when Pause arrives may still report once.
    await page.waitForTimeout(3000);
    const paused = await progressValue(page);
    await page.waitForTimeout(3000);
    assert.equal(await progressValue(page), paused, 'training went on while paused');
    assert.ok(await page.isEnabled(byTestId('resume-button')));
    await page.click(byTestId('resume-button'));
    const accuracy = await waitForTestAccuracy(page);
    assert.ok(accuracy > 90, `the small model reached only ${accuracy} %`);
    assert.match(await page.textContent(byTestId('progress-text')), /^Done: 1 epoch in /);
    assert.match(await page.textContent(byTestId('runs')), /\(custom, adam .*: 1 epoch, test/);
  });

  await t.test('result views', async () => {
    assert.equal(await page.locator(`${byTestId('per-class')} tr`).count(), 11);
    assert.equal(await page.locator(`${byTestId('confusion')} tr`).count(), 11);
    const captions = await page.locator(`${byTestId('misclassified')} figcaption`).allTextContents();
    assert.ok(captions.length > 0, 'no misclassified digits are shown');
    assert.match(captions[0], /^predicted \d, true \d$/);
  });

  await t.test('draw pad predicts', async () => {
    await page.locator(byTestId('draw-pad')).scrollIntoViewIfNeeded();
    const pad = await page.locator(byTestId('draw-pad')).boundingBox();
    // A vertical stroke, roughly a 1.
    await page.mouse.move(pad.x + 140, pad.y + 40);
    await page.mouse.down();
    for (let y = 40; y <= 240; y += 20) await page.mouse.move(pad.x + 140, pad.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="top3"] li').length === 3);
    const top = await page.locator(`${byTestId('top3')} li`).allTextContents();
    assert.match(top[0], /^\d .*%$/);
  });

  await t.test('filters and activations', async () => {
    await page.fill('#inspect-index', '5');
    await page.click(byTestId('inspect-button'));
    await page.waitForSelector(byTestId('activations-1'));
    assert.equal(await page.locator(`${byTestId('kernels-0')} canvas`).count(), 32);
    assert.equal(await page.locator(`${byTestId('activations-0')} canvas`).count(), 32);
  });

  const accuracy = await page.textContent(byTestId('test-accuracy'));

  await t.test('runs and models survive a reload', async () => {
    // Without a name the model is saved under what it is: an edited layer list, not seed-cnn.
    await page.click(byTestId('save-db'));
    const unnamed = page.locator(`${byTestId('saved-models')} li`);
    await unnamed.waitFor();
    assert.match(await unnamed.textContent(), /^custom \d{4}-/);
    await unnamed.locator('button:text("delete")').click();
    await page.waitForFunction(() => !document.querySelector('[data-testid="saved-models"] li'));

    await page.fill('#model-name', 'small');
    await page.click(byTestId('save-db'));
    await page.waitForSelector(`${byTestId('saved-models')} li`);
    await page.reload();
    await waitReady(page);
    assert.equal(await page.locator(`${byTestId('runs')} li`).count(), 1);
    await page.click(`${byTestId('saved-models')} li button:text("load")`);
    await page.waitForFunction(() => document.querySelector('[data-testid="test-accuracy"]').dataset.value);
    assert.equal(await page.textContent(byTestId('test-accuracy')), accuracy);
    assert.ok(await page.isChecked(byTestId('continue')));
  });

  await t.test('loaded model trains further', async () => {
    for (const id of ['augment-rotation', 'augment-translation', 'augment-scaling']) await page.uncheck(byTestId(id));
    await page.fill(byTestId('augment-brightness'), '0');
    await page.click(byTestId('train-button'));
    // The loaded model's accuracy stays on the page until the new run starts.
    await page.waitForFunction(() => !document.querySelector('[data-testid="test-accuracy"]').dataset.value);
    const further = await waitForTestAccuracy(page);
    assert.ok(further > 90, `training the loaded model gave ${further} %`);
    assert.equal(await page.locator(`${byTestId('runs')} li`).count(), 2);
    await page.check(`${byTestId('runs')} li:last-child input[type="checkbox"]`);
  });

  assert.deepEqual(errors, [], 'the console has errors');
  await context.close();
});
