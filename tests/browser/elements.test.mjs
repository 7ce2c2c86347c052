// The showcase page (www/dist/embed.html) with <webcnn-trainer> and <webcnn-classifier>, served
// with the page's Content Security Policy also as a header (workers take their policy from
// their own response). Training must finish with its events, the classifier must classify a
// drawn digit with the trained model, a model from a URL and webcam frames, a damaged model
// must give an error event, and no request may leave the origin.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeTfjsFixtures } from './fixtures.mjs';
import { launchBrowser, watchConsole } from './support.mjs';
import { REPO_ROOT, serveStatic } from './static.mjs';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:";

async function start(t, browser) {
  const fixtures = writeTfjsFixtures();
  const server = await serveStatic(
    { '/': join(REPO_ROOT, 'www/dist'), '/fixtures/': fixtures },
    { 'Content-Security-Policy': CSP },
  );
  t.after(async () => {
    await browser.close();
    await server.close();
    rmSync(fixtures, { recursive: true });
  });
  const context = await browser.newContext();
  const outside = [];
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(server.url) && !url.startsWith('blob:') && !url.startsWith('data:')) outside.push(url);
  });
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const errors = watchConsole(page);
  await page.goto(`${server.url}/embed.html`);
  return { page, errors, outside };
}

// Resolves with the detail of the next `type` event of the element matching `selector`; rejects
// with the message of an 'error' event that comes first.
function nextEvent(page, selector, type) {
  return page.evaluate(({ selector, type }) => new Promise((resolve, reject) => {
    const element = document.querySelector(selector);
    element.addEventListener(type, (e) => resolve(e.detail ?? true), { once: true });
    if (type !== 'error') {
      element.addEventListener('error', (e) => reject(new Error(e.detail.message)), { once: true });
    }
  }), { selector, type });
}

// Draws a "1" on the pad of the classifier matching `selector`.
async function drawOne(page, selector) {
  const pad = page.locator(`${selector} >> canvas.pad`);
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8, { steps: 8 });
  await page.mouse.up();
}

function checkTop(top, k) {
  assert.equal(top.length, k);
  for (let i = 1; i < k; i++) assert.ok(top[i - 1].probability >= top[i].probability, JSON.stringify(top));
  assert.ok(top.reduce((s, e) => s + e.probability, 0) <= 1 + 1e-5);
}

test('showcase elements train and classify under the CSP', { timeout: 10 * 60_000 }, async (t) => {
  const { page, errors, outside } = await start(t, await launchBrowser({ webgpu: false }));
  const trainer = 'webcnn-trainer';
  await page.evaluate(() => {
    const element = document.querySelector('webcnn-trainer');
    element.setAttribute('epochs', '2');
    element.setAttribute('limit', '2500');
    window.__epochs = [];
    element.addEventListener('epochend', (e) => window.__epochs.push(e.detail));
  });
  const done = nextEvent(page, trainer, 'done');
  await page.locator(`${trainer} >> button`).click();
  const result = await done;
  const epochs = await page.evaluate(() => window.__epochs);
  assert.deepEqual(epochs.map((e) => e.epoch), [0, 1]);
  assert.ok(result.accuracy > 0.85, `test accuracy ${result.accuracy} after two epochs on 2,500 digits`);
  assert.match(await page.locator(`${trainer} >> .status`).textContent(), /Test accuracy/);
  assert.equal(await page.locator(`${trainer} >> progress`).evaluate((p) => p.value), 1);

  await t.test('the trained model classifies a drawing', async () => {
    const prediction = nextEvent(page, 'webcnn-classifier', 'prediction');
    await drawOne(page, 'webcnn-classifier');
    const { top } = await prediction;
    checkTop(top, 3);
    assert.equal(await page.locator('webcnn-classifier >> li').count(), 3);
  });

  await t.test('a model from a URL loads and classifies', async () => {
    await page.evaluate(() => {
      const element = document.createElement('webcnn-classifier');
      element.id = 'from-url';
      element.setAttribute('top-k', '5');
      element.setAttribute('labels', 'zero,one,two,three,four,five,six,seven,eight,nine');
      document.body.append(element);
    });
    const loaded = nextEvent(page, '#from-url', 'load');
    await page.evaluate(() => document.querySelector('#from-url').setAttribute('src', '/fixtures/mnist-cnn/model.json'));
    await loaded;
    const prediction = nextEvent(page, '#from-url', 'prediction');
    await drawOne(page, '#from-url');
    const { top } = await prediction;
    checkTop(top, 5);
    assert.ok(top.every((e) => /^[a-z]+$/.test(e.label)), JSON.stringify(top));
  });

  await t.test('a truncated model gives an error event', async () => {
    const failed = nextEvent(page, '#from-url', 'error');
    await page.evaluate(() => document.querySelector('#from-url').setAttribute('src', '/fixtures/truncated/model.json'));
    const { message } = await failed;
    assert.match(message, /group2-shard1of1\.bin/);
    assert.match(await page.locator('#from-url >> .status').textContent(), /truncated/);
  });

  assert.deepEqual(outside, []);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
});

test('classifier classifies webcam frames under the CSP', { timeout: 5 * 60_000 }, async (t) => {
  // Chromium's fake camera shows a moving test pattern.
  const browser = await launchBrowser({
    webgpu: false,
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  const { page, errors, outside } = await start(t, browser);
  await page.evaluate(() => {
    const element = document.createElement('webcnn-classifier');
    element.id = 'webcam';
    element.setAttribute('input', 'webcam');
    element.setAttribute('src', '/fixtures/mnist-cnn/model.json');
    document.body.append(element);
  });
  const { top } = await nextEvent(page, '#webcam', 'prediction');
  checkTop(top, 3);
  assert.deepEqual(outside, []);
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(errors, []);
});
