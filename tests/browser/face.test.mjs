// The face page in Chromium on WebGPU (SwiftShader): live detection on a fake camera that plays
// a clip of the astronaut portrait, mirrored like the preview; the camera-denied message and
// the photo path; and no request leaving the page's origin.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { place, readPng, writeY4m } from './fake-camera.mjs';
import { byTestId, launchBrowser, startServer, watchConsole } from './support.mjs';

const ASTRONAUT = fileURLToPath(new URL('../data/astronaut.png', import.meta.url));
// The face in astronaut.png (512x512) in pixels, checked by hand (see tests/face_detector.rs).
const FACE = { left: 176, top: 80, right: 274, bottom: 182 };
// The clip: the portrait scaled to the frame's height, near the frame's left edge, moving a
// few pixels between frames.
const CLIP = { width: 640, height: 480, fps: 15, frames: 30, scale: 480 / 512, x: 8, y: 0 };
const MOTION = 6;
// Detections the live test waits for before checking boxes.
const LIVE_FRAMES = 3;
// How long the camera plays black frames in the blank-frame test.
const BLANK_WAIT_MS = 5000;
// The smaller detector input the live test switches to.
const SMALL_INPUT = 320;
// Crops of the enrolment burst (the page's default is 30, but SwiftShader detects only about
// one frame a second).
const ENROL_CROPS = 3;

let server;
let workDir;
let clipPath;

before(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'webcnn-face-'));
  clipPath = join(workDir, 'astronaut.y4m');
  const image = readPng(ASTRONAUT);
  const frames = [];
  for (let k = 0; k < CLIP.frames; k += 1) {
    const phase = (2 * Math.PI * k) / CLIP.frames;
    const x = CLIP.x + MOTION * Math.sin(phase);
    const y = CLIP.y + MOTION * (Math.cos(phase) - 1);
    frames.push(place(image, { ...CLIP, x, y }));
  }
  writeY4m(clipPath, frames, CLIP);
});

after(async () => {
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function iou(a, b) {
  const width = Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left));
  const height = Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  const intersection = width * height;
  const area = (box) => (box.right - box.left) * (box.bottom - box.top);
  return intersection / (area(a) + area(b) - intersection);
}

// Records every request of the context, workers' included.
function recordRequests(context) {
  const urls = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

function assertSameOrigin(urls) {
  const origin = new URL(server.url).origin;
  const outside = urls.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin);
  assert.deepEqual(outside, [], 'requests left the page origin');
  assert.ok(
    urls.some((url) => url.includes('tiny_face_detector')),
    `the recorded requests miss the worker's model download: ${urls.join(', ')}`,
  );
}

async function openFacePage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const urls = recordRequests(context);
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto(new URL('face.html', server.url).href);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return { context, page, urls, errors };
}

async function samplesOf(page, person) {
  return page.locator(`[data-person="${person}"] ${byTestId('sample')}`).count();
}

// Enrols `person` with a burst of `count` crops and checks the thumbnails.
async function enrolFromCamera(page, person, count) {
  await page.fill(byTestId('enrol-name'), person);
  await page.fill(byTestId('enrol-count'), String(count));
  await page.click(byTestId('enrol-button'));
  await page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'countdown');
  await page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'done', null, {
    timeout: 300_000,
  });
  assert.equal(await samplesOf(page, person), count);
  // The crop is centred on the face: its middle is skin, not the grey background of the clip.
  const centre = await page.$eval(`[data-person="${person}"] canvas`, (canvas) => [
    ...canvas.getContext('2d').getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data,
  ]);
  assert.ok(centre[0] > centre[2] + 20, `the crop's centre pixel ${centre} is not skin-coloured`);
}

// Picks the astronaut portrait and checks its face box.
async function detectPhoto(page) {
  await page.setInputFiles(byTestId('photo-input'), ASTRONAUT);
  await page.waitForFunction(() => document.querySelector('#photo').dataset.faces !== undefined, null, { timeout: 300_000 });
  const { faces, width, height } = await boxes(page);
  assert.deepEqual([width, height], [512, 512]);
  assert.equal(faces.length, 1, `one face expected, got ${JSON.stringify(faces)}`);
  // A photo is shown as it is, not mirrored.
  const overlap = iou(faces[0], FACE);
  assert.ok(overlap >= 0.5, `IoU ${overlap.toFixed(3)} of ${JSON.stringify(faces[0])} with ${JSON.stringify(FACE)}`);
}

async function boxes(page) {
  return page.$eval(byTestId('overlay'), (overlay) => ({
    faces: JSON.parse(overlay.dataset.boxes),
    width: Number(overlay.dataset.width),
    height: Number(overlay.dataset.height),
  }));
}

test('live camera box is on the mirrored face', async () => {
  const browser = await launchBrowser({
    webgpu: true,
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clipPath}`],
  });
  try {
    const { context, page, urls, errors } = await openFacePage(browser);
    assert.equal(await page.getAttribute(byTestId('backend'), 'data-backend'), 'webgpu');
    await page.waitForFunction(() => document.querySelector('[data-testid="camera-status"]').dataset.state === 'on', null, {
      timeout: 60_000,
    });
    // The rate shows once two detections have finished; wait for a few more.
    const start = Date.now();
    await page.waitForFunction(
      (count) => Number(document.querySelector('[data-testid="overlay"]').dataset.frames) >= count,
      LIVE_FRAMES,
      { timeout: 300_000, polling: 200 },
    );
    const { faces, width, height } = await boxes(page);
    const seconds = (Date.now() - start) / 1000;
    const fps = await page.getAttribute(byTestId('fps'), 'data-value');
    console.log(`live detection: ${fps} frames/s shown by the page, ${faces.length} faces, ${seconds.toFixed(1)} s`);
    assert.deepEqual([width, height], [CLIP.width, CLIP.height], 'the detected frame has the clip size');
    assert.equal(faces.length, 1, `one face expected, got ${JSON.stringify(faces)}`);
    // The clip's face, mirrored: x becomes width - x.
    const s = CLIP.scale;
    const mirrored = {
      left: CLIP.width - (CLIP.x + FACE.right * s),
      right: CLIP.width - (CLIP.x + FACE.left * s),
      top: CLIP.y + FACE.top * s,
      bottom: CLIP.y + FACE.bottom * s,
    };
    const overlap = iou(faces[0], mirrored);
    assert.ok(overlap >= 0.5, `IoU ${overlap.toFixed(3)} of ${JSON.stringify(faces[0])} with ${JSON.stringify(mirrored)}`);
    assert.ok(Number(fps) > 0, `frame rate shown: ${fps}`);

    // A smaller detector input finds the face too, and faster.
    await page.selectOption(byTestId('detector-size'), String(SMALL_INPUT));
    await page.waitForFunction((size) => document.querySelector('[data-testid="detector-size"]').dataset.applied === size, String(SMALL_INPUT), {
      timeout: 60_000,
    });
    const framesBefore = Number(await page.getAttribute(byTestId('overlay'), 'data-frames'));
    await page.waitForFunction(
      (count) => Number(document.querySelector('[data-testid="overlay"]').dataset.frames) >= count,
      framesBefore + LIVE_FRAMES,
      { timeout: 300_000, polling: 200 },
    );
    const small = await boxes(page);
    const smallFps = await page.getAttribute(byTestId('fps'), 'data-value');
    console.log(`live detection at ${SMALL_INPUT}: ${smallFps} frames/s shown by the page`);
    // The best box must be the face. At 320 the detector (face-api's weights, which
    // tests/face_detector.rs checks webcnn against at 416) can add a weaker box below the face
    // on some frames of the clip (a score of 0.53 was seen), so extra boxes are allowed here.
    assert.ok(small.faces.length >= 1, `no face found at ${SMALL_INPUT}`);
    const best = small.faces.reduce((a, b) => (b.score > a.score ? b : a));
    const smallOverlap = iou(best, mirrored);
    assert.ok(smallOverlap >= 0.5, `IoU ${smallOverlap.toFixed(3)} at ${SMALL_INPUT} of ${JSON.stringify(small.faces)}`);

    await enrolFromCamera(page, 'Eileen', ENROL_CROPS);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    assert.equal(await samplesOf(page, 'Eileen'), ENROL_CROPS, 'crops kept across a reload');
    await page.click(`[data-person="Eileen"] ${byTestId('delete-sample')}`);
    await page.waitForFunction((count) => document.querySelectorAll('[data-testid="sample"]').length === count, ENROL_CROPS - 1);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    assert.equal(await samplesOf(page, 'Eileen'), ENROL_CROPS - 1, 'a deleted crop stays deleted');
    await page.click(`[data-person="Eileen"] ${byTestId('delete-person')}`);
    await page.waitForSelector('[data-person="Eileen"]', { state: 'detached' });

    assertSameOrigin(urls);
    assert.deepEqual(errors, [], 'the console has errors');
    await context.close();
  } finally {
    await browser.close();
  }
});

test('blank camera frames are skipped', async () => {
  const blankPath = join(workDir, 'blank.y4m');
  const black = new Uint8Array(CLIP.width * CLIP.height * 3);
  writeY4m(blankPath, [black, black], CLIP);
  const browser = await launchBrowser({
    webgpu: true,
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${blankPath}`],
  });
  try {
    const { context, page, errors } = await openFacePage(browser);
    await page.waitForFunction(() => ['waiting', 'on'].includes(document.querySelector('[data-testid="camera-status"]').dataset.state), null, {
      timeout: 60_000,
    });
    await page.waitForTimeout(BLANK_WAIT_MS);
    assert.equal(await page.getAttribute(byTestId('camera-status'), 'data-state'), 'waiting');
    assert.equal(await page.getAttribute(byTestId('overlay'), 'data-frames'), null, 'a blank frame was sent to the detector');
    assert.deepEqual(errors, [], 'the console has errors');
    await context.close();
  } finally {
    await browser.close();
  }
});

test('denied camera falls back to photos', async () => {
  // Without --use-fake-ui-for-media-stream, Playwright's context has no camera permission.
  const browser = await launchBrowser({ webgpu: true, args: ['--use-fake-device-for-media-stream'] });
  try {
    const { context, page, urls, errors } = await openFacePage(browser);
    await page.waitForFunction(() => document.querySelector('[data-testid="camera-status"]').dataset.state === 'unavailable', null, {
      timeout: 30_000,
    });
    assert.match(await page.textContent(byTestId('camera-status')), /Camera access was denied/);
    await page.fill(byTestId('enrol-name'), 'Photo');
    await page.click(byTestId('enrol-button'));
    assert.equal(await page.textContent(byTestId('enrol-status')), 'Turn on the camera or pick a photo first.');
    await detectPhoto(page);

    await page.fill(byTestId('enrol-name'), '  ');
    await page.click(byTestId('enrol-button'));
    assert.equal(await page.textContent(byTestId('enrol-status')), "Type the person's name first.");
    await page.fill(byTestId('enrol-name'), 'Photo');
    await page.click(byTestId('enrol-button'));
    await page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'done', null, {
      timeout: 300_000,
    });
    assert.equal(await samplesOf(page, 'Photo'), 1, 'a photo enrols one crop');

    // Export, delete, import: the crop comes back; a damaged file adds nothing.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(byTestId('export-button'))]);
    const exported = join(workDir, 'faces.json');
    await download.saveAs(exported);
    await page.click(`[data-person="Photo"] ${byTestId('delete-person')}`);
    await page.waitForSelector('[data-person="Photo"]', { state: 'detached' });
    await page.setInputFiles(byTestId('import-input'), exported);
    await page.waitForSelector(`[data-person="Photo"] ${byTestId('sample')}`);
    assert.equal(await samplesOf(page, 'Photo'), 1, 'the imported file restores the crop');
    const file = JSON.parse(readFileSync(exported, 'utf8'));
    file.samples[0].size = 65;
    const damaged = join(workDir, 'damaged.json');
    writeFileSync(damaged, JSON.stringify(file));
    await page.setInputFiles(byTestId('import-input'), damaged);
    await page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'invalid');
    assert.match(await page.textContent(byTestId('enrol-status')), /sample 0 of damaged\.json has .* bytes of pixels where a 65x65 crop has/);
    assert.equal(await samplesOf(page, 'Photo'), 1, 'a damaged file adds nothing');

    assertSameOrigin(urls);
    assert.deepEqual(errors, [], 'the console has errors');
    await context.close();
  } finally {
    await browser.close();
  }
});

test('photo detection on the CPU path', async () => {
  // Without the WebGPU flags Chromium finds no adapter here, and without a fake device no camera.
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { context, page, urls, errors } = await openFacePage(browser);
    assert.equal(await page.getAttribute(byTestId('backend'), 'data-backend'), 'cpu');
    await page.waitForFunction(() => document.querySelector('[data-testid="camera-status"]').dataset.state === 'unavailable', null, {
      timeout: 30_000,
    });
    assert.match(await page.textContent(byTestId('camera-status')), /No camera was found/);
    const started = Date.now();
    await detectPhoto(page);
    console.log(`photo detection on the CPU path: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assertSameOrigin(urls);
    assert.deepEqual(errors, [], 'the console has errors');
    await context.close();
  } finally {
    await browser.close();
  }
});
