// Face recognition on the face page, end to end in Chromium on WebGPU (SwiftShader). Two people
// are enrolled from fake-camera clips of real photos, one browser launch per clip on the same
// profile, so the crops must survive in IndexedDB. The page trains its recogniser. Fresh clips
// of each person must get the right name, and a stranger's clip must get "unknown". Then the
// stranger is enrolled, and the page fine-tunes with the lower layers frozen. Last, a deleted
// person must get "unknown" without retraining.
//
// The faces: scikit-image's public-domain astronaut portrait (tests/data/astronaut.png) and two
// women from face-api's demo photo sample6.jpg (MIT, in the npm package that setup installs to
// convert the face detector).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodeRegion, place, readPng, writeY4m } from './fake-camera.mjs';
import { byTestId, launchBrowser, launchPersistent, startServer, watchConsole } from './support.mjs';

const ASTRONAUT = fileURLToPath(new URL('../data/astronaut.png', import.meta.url));
const GROUP_PHOTO = fileURLToPath(
  new URL('../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample6.jpg', import.meta.url),
);
// Head-and-shoulders regions of two of the four women in sample6.jpg (1920x1537), each with no
// other face in it.
const SECOND_PERSON = { x: 540, y: 90, width: 440, height: 800 };
const STRANGER = { x: 1420, y: 10, width: 440, height: 800 };

const FRAME = { width: 640, height: 480, fps: 15, frames: 30 };
// Enrolment clips fill the frame's height; the fresh clips show the face smaller, elsewhere in
// the frame and moving along another path.
const ENROL_PLACEMENT = { fill: 1, x: 20, y: 0, motion: 6 };
const FRESH_PLACEMENT = { fill: 0.85, x: 260, y: 40, motion: 10 };
const ENROL_CROPS = 20;
// Frames whose recognised name is checked per fresh clip.
const CHECKED_FRAMES = 15;

let server;
let workDir;
let profileDir;
// The browser that openWithCamera launched and close has not closed yet, if any.
let openContext;
const clips = {};

// Writes a clip of `image` placed and moving as `placement` sets; returns its path.
function writeClip(name, image, placement) {
  const scale = (FRAME.height * placement.fill) / image.height;
  const frames = [];
  for (let k = 0; k < FRAME.frames; k += 1) {
    const phase = (2 * Math.PI * k) / FRAME.frames;
    const x = placement.x + placement.motion * Math.sin(phase);
    const y = placement.y + placement.motion * (Math.cos(phase) - 1) * 0.5;
    frames.push(place(image, { ...FRAME, scale, x, y }));
  }
  const path = join(workDir, `${name}.y4m`);
  writeY4m(path, frames, FRAME);
  return path;
}

before(async () => {
  server = await startServer();
  workDir = mkdtempSync(join(tmpdir(), 'webcnn-recognise-'));
  profileDir = join(workDir, 'profile');
  const browser = await launchBrowser({ webgpu: false });
  const page = await browser.newPage();
  const faces = {
    eileen: readPng(ASTRONAUT),
    maria: await decodeRegion(page, GROUP_PHOTO, SECOND_PERSON),
    stranger: await decodeRegion(page, GROUP_PHOTO, STRANGER),
  };
  await browser.close();
  for (const [name, image] of Object.entries(faces)) {
    clips[`${name}-enrol`] = writeClip(`${name}-enrol`, image, ENROL_PLACEMENT);
    clips[`${name}-fresh`] = writeClip(`${name}-fresh`, image, FRESH_PLACEMENT);
  }
});

after(async () => {
  // A failed check leaves its browser open, which would keep the test process alive.
  await openContext?.close();
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

// Opens the face page in a browser whose camera plays `clip`, on the shared profile, and waits
// until the camera runs. Returns {context, page, urls, errors}.
async function openWithCamera(clip) {
  const context = await launchPersistent({
    webgpu: true,
    userDataDir: profileDir,
    args: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clip}`],
  });
  openContext = context;
  const urls = [];
  context.on('request', (request) => urls.push(request.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = watchConsole(page);
  await page.goto(new URL('face.html', server.url).href);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  assert.equal(await page.getAttribute(byTestId('backend'), 'data-backend'), 'webgpu');
  await page.waitForFunction(() => document.querySelector('[data-testid="camera-status"]').dataset.state === 'on', null, {
    timeout: 60_000,
  });
  return { context, page, urls, errors };
}

// Closes the browser after checking that no request left the origin and the console is clean.
async function close({ context, urls, errors }) {
  const origin = new URL(server.url).origin;
  const outside = urls.filter((url) => !/^(data|blob):/.test(url) && new URL(url).origin !== origin);
  assert.deepEqual(outside, [], 'requests left the page origin');
  assert.deepEqual(errors, [], 'the console has errors');
  await context.close();
  openContext = undefined;
}

async function enrol(page, person) {
  await page.fill(byTestId('enrol-name'), person);
  await page.fill(byTestId('enrol-count'), String(ENROL_CROPS));
  await page.click(byTestId('enrol-button'));
  await page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'done', null, {
    timeout: 300_000,
  });
  assert.equal(await cropsOf(page, person), ENROL_CROPS);
}

async function cropsOf(page, person) {
  return page.locator(`[data-person="${person}"] ${byTestId('sample')}`).count();
}

// Presses Train and waits for the run to end; returns the final status text.
async function train(page) {
  await page.click(byTestId('train-button'));
  await page.waitForFunction(
    () => ['done', 'failed', 'invalid'].includes(document.querySelector('[data-testid="train-status"]').dataset.state),
    null,
    { timeout: 600_000, polling: 500 },
  );
  const status = await page.textContent(byTestId('train-status'));
  assert.equal(await page.getAttribute(byTestId('train-status'), 'data-state'), 'done', status);
  // The frame in flight when training ended was detected without recognition; skip it.
  await recognisedNames(page, 1);
  return status;
}

// Reads the recognised name on each of the next `count` detected frames. Returns
// [{name, probability, similarity}] and the frame rate the page shows.
async function recognisedNames(page, count) {
  const names = [];
  let frames = Number(await page.getAttribute(byTestId('overlay'), 'data-frames'));
  while (names.length < count) {
    await page.waitForFunction(
      (last) => Number(document.querySelector('[data-testid="overlay"]').dataset.frames) > last,
      frames,
      { timeout: 60_000, polling: 50 },
    );
    const frame = await page.$eval(byTestId('recognized-name'), (element) => ({
      frames: Number(document.querySelector('[data-testid="overlay"]').dataset.frames),
      name: element.textContent,
      probability: Number(element.dataset.probability),
      similarity: Number(element.dataset.similarity),
    }));
    frames = frame.frames;
    names.push(frame);
  }
  const fps = Number(await page.getAttribute(byTestId('fps'), 'data-value'));
  return { names, fps };
}

// Checks that at least `share` of the next frames are named `expected`.
async function expectName(page, expected, share, clip) {
  const { names, fps } = await recognisedNames(page, CHECKED_FRAMES);
  const right = names.filter((frame) => frame.name === expected).length;
  const summary = names.map((f) => `${f.name} (p ${f.probability.toFixed(2)}, s ${f.similarity.toFixed(2)})`).join(', ');
  console.log(`${clip}: ${right} of ${names.length} frames named ${expected}, ${fps.toFixed(2)} frames/s detect+recognise; ${summary}`);
  assert.ok(right >= share * names.length, `${clip}: only ${right} of ${names.length} frames named ${expected}: ${summary}`);
}

test('two people enrolled, trained and recognised', async () => {
  // Launch 1: enrol the astronaut.
  let browser = await openWithCamera(clips['eileen-enrol']);
  await enrol(browser.page, 'Eileen');
  await close(browser);

  // Launch 2: the first crops survived; enrol the second person and train.
  browser = await openWithCamera(clips['maria-enrol']);
  assert.equal(await cropsOf(browser.page, 'Eileen'), ENROL_CROPS, 'crops kept from the first launch');
  await enrol(browser.page, 'Maria');
  assert.equal(await browser.page.getAttribute(byTestId('train-button'), 'data-mode'), 'fresh');
  const started = Date.now();
  const status = await train(browser.page);
  console.log(`training: ${status} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  const [download] = await Promise.all([
    browser.page.waitForEvent('download'),
    browser.page.click(byTestId('export-button')),
  ]);
  const exported = join(workDir, 'faces.json');
  await download.saveAs(exported);
  const file = JSON.parse(readFileSync(exported, 'utf8'));
  assert.deepEqual(file.recogniser.people, ['Eileen', 'Maria'], 'the export holds the trained model');
  // A file whose model is cut short is rejected whole: no crop is added, the model stays.
  file.recogniser.model = file.recogniser.model.slice(0, 4000);
  const damaged = join(workDir, 'damaged-model.json');
  writeFileSync(damaged, JSON.stringify(file));
  await browser.page.setInputFiles(byTestId('import-input'), damaged);
  await browser.page.waitForFunction(() => document.querySelector('[data-testid="enrol-status"]').dataset.state === 'invalid');
  assert.match(await browser.page.textContent(byTestId('enrol-status')), /Importing failed: .*the model in damaged-model\.json/);
  assert.equal(await cropsOf(browser.page, 'Eileen'), ENROL_CROPS, 'a damaged file adds no crop');
  await browser.page.waitForFunction(() => document.querySelector('[data-testid="train-status"]').dataset.state === 'restored');
  assert.match(await browser.page.textContent(byTestId('train-status')), /Recognising Eileen, Maria/);
  await close(browser);

  // Launches 3 and 4: the stored model names fresh clips of each person.
  for (const [person, clip] of [['Eileen', 'eileen-fresh'], ['Maria', 'maria-fresh']]) {
    browser = await openWithCamera(clips[clip]);
    assert.equal(await browser.page.getAttribute(byTestId('train-status'), 'data-state'), 'restored');
    await expectName(browser.page, person, 0.9, clip);
    await close(browser);
  }

  // Launch 5: a stranger is unknown; once enrolled, fine-tuning learns her with the conv
  // layers frozen.
  browser = await openWithCamera(clips['stranger-enrol']);
  await expectName(browser.page, 'unknown', 0.8, 'stranger-enrol');
  await enrol(browser.page, 'Ana');
  assert.equal(await browser.page.getAttribute(byTestId('train-button'), 'data-mode'), 'fine-tune');
  for (const [index, frozen] of [[0, true], [2, true], [4, true], [7, false], [9, false]]) {
    assert.equal(await browser.page.isChecked(byTestId(`freeze-${index}`)), frozen, `layer ${index} frozen`);
  }
  await train(browser.page);
  await expectName(browser.page, 'Ana', 0.9, 'stranger-enrol after fine-tuning');
  await close(browser);

  // Launch 6: the fine-tuned model still names the first person, on the camera and in a photo.
  browser = await openWithCamera(clips['eileen-fresh']);
  await expectName(browser.page, 'Eileen', 0.9, 'eileen-fresh after fine-tuning');
  await browser.page.setInputFiles(byTestId('photo-input'), ASTRONAUT);
  await browser.page.waitForFunction(() => document.querySelector('#photo').dataset.faces === '1', null, { timeout: 120_000 });
  assert.equal(await browser.page.textContent(byTestId('recognized-name')), 'Eileen', 'the uploaded photo is named');

  // Deleting the first person stops the page naming her at once, before any new training,
  // and the training panel requests a new run.
  await browser.page.click(`[data-person="Eileen"] ${byTestId('delete-person')}`);
  await browser.page.waitForSelector('[data-person="Eileen"]', { state: 'detached' });
  assert.equal(await browser.page.getAttribute(byTestId('train-status'), 'data-state'), 'stale');
  assert.match(await browser.page.textContent(byTestId('train-status')), /Deleted since training: Eileen\./);
  assert.equal(await browser.page.getAttribute(byTestId('train-button'), 'data-mode'), 'fresh');
  await browser.page.click(byTestId('use-camera'));
  await expectName(browser.page, 'unknown', 1, 'eileen-fresh after deleting Eileen');
  await close(browser);
});
