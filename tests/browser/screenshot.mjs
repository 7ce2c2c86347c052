// Takes the README's screenshot of the trainer page: a default training run on WebGPU, a digit
// drawn on the pad and the activations of a test digit.
// Usage: node tests/browser/screenshot.mjs [OUTPUT.png]  (default docs/trainer.png; needs
// www/dist/, which scripts/build-web.sh builds)

import { fileURLToPath } from 'node:url';

import { byTestId, launchBrowser, startServer } from './support.mjs';

const output = process.argv[2] ?? fileURLToPath(new URL('../../docs/trainer.png', import.meta.url));
const server = await startServer();
const browser = await launchBrowser({ webgpu: true });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await page.click(byTestId('train-button'));
  await page.waitForFunction(
    () => document.querySelector('[data-testid="test-accuracy"]').dataset.value,
    null,
    { timeout: 40 * 60 * 1000, polling: 1000 },
  );

  // A 7: a stroke to the right, then down to the left.
  const pad = page.locator(byTestId('draw-pad'));
  await pad.scrollIntoViewIfNeeded();
  const box = await pad.boundingBox();
  const points = [[70, 60], [210, 60], [180, 130], [150, 200], [130, 240]];
  await page.mouse.move(box.x + points[0][0], box.y + points[0][1]);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="top3"] li').length === 3);

  await page.click(byTestId('inspect-button'));
  await page.waitForSelector(byTestId('activations-0'));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: output, fullPage: true });
  console.log(`wrote ${output}`);
} finally {
  await browser.close();
  await server.close();
}
