// The npm package (js/) in headless Chromium, loaded unbundled from a static server: the Keras
// MNIST CNN written with the JS API trains on the embedded digits on the CPU path; freezing,
// IndexedDB and Blob round trips, per-batch callbacks and the optimizer state kept across fit
// calls, and the import of Keras models saved by TensorFlow.js (written by tfjs 4.22.0 in Node)
// with damaged copies, and of models written by Python Keras with the tensorflowjs converter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTfjsFixtures } from './fixtures.mjs';
import { launchBrowser, watchConsole } from './support.mjs';
import { REPO_ROOT, serveStatic } from './static.mjs';

const TRAIN_EXAMPLES = 6000;
const TEST_EXAMPLES = 1000;
const EPOCHS = 4;

// Reads a safetensors file: tensor(name) gives a tensor's raw bytes, and header its JSON header
// (tensor names with their shapes and offsets, plus __metadata__).
function safetensors(bytes) {
  const view = Buffer.from(bytes);
  const headerLength = Number(view.readBigUInt64LE(0));
  const header = JSON.parse(view.subarray(8, 8 + headerLength).toString());
  const start = 8 + headerLength;
  const tensor = (name) => {
    assert.ok(header[name], `the file has no tensor ${name}`);
    const [from, to] = header[name].data_offsets;
    return view.subarray(start + from, start + to);
  };
  return { header, tensor };
}

// Returns the list that the paths of the wasm modules `page` and its workers fetch go to.
function watchWasm(page) {
  const paths = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith('.wasm')) paths.push(path);
  });
  return paths;
}

// Opens the blank test page in a browser with or without WebGPU, closed after the test `t`.
// Returns the page and the list its console errors go to.
async function openBlankPage(t, { webgpu }) {
  const server = await serveStatic();
  const browser = await launchBrowser({ webgpu });
  t.after(async () => {
    await browser.close();
    await server.close();
  });
  const page = await browser.newPage();
  const errors = watchConsole(page);
  await page.goto(`${server.url}/tests/browser/pages/blank.html`);
  return { page, errors };
}

// The wasm cores take their float digits from JavaScript's Number (src/number.rs), so this
// checks that path in the CPU core: config values come back as the same numbers, and messages
// show short digits.
test('float text in the wasm core', { timeout: 2 * 60_000 }, async (t) => {
  const { page, errors } = await openBlankPage(t, { webgpu: false });
  const result = await page.evaluate(async () => {
    const core = await import('/js/pkg/cpu/webcnn.js');
    await core.default();
    const trainer = core.Trainer.createCpu('the test checks float text');
    trainer.setTrainingData(new Float32Array(4 * 16).fill(0.5), Uint32Array.from([0, 1, 0, 1]), [4, 4, 1], 2);
    const model = {
      input_shape: [4, 4, 1],
      layers: [
        { type: 'flatten' },
        { type: 'dense', units: 3, activation: { leaky_relu: { alpha: 1e-7 } } },
        { type: 'dropout', rate: 0.1 },
        { type: 'dense', units: 2, activation: 'softmax' },
      ],
    };
    const train = { epochs: 1, batch_size: 2, validation_split: 0, seed: 1 };
    const message = (settings) => trainer.start(settings).then(() => 'started', (e) => e.message);
    const badRate = await message({ model, optimizer: { type: 'sgd', learning_rate: -2.5e-8 }, train });
    const badSplit = await message({ model, optimizer: { type: 'sgd' }, train: { ...train, validation_split: 1.5 } });
    const info = await trainer.start({ model, optimizer: { type: 'sgd', learning_rate: 1e-7 }, train });
    return { badRate, badSplit, layers: info.config.layers };
  });
  assert.match(result.badRate, /got -0\.000000025;/);
  assert.match(result.badSplit, /got 1\.5;/);
  assert.equal(result.layers[1].activation.leaky_relu.alpha, 1e-7);
  assert.equal(result.layers[2].rate, 0.1);
  assert.deepEqual(errors, []);
});

test('Keras MNIST CNN trains through the JS API', { timeout: 15 * 60_000 }, async (t) => {
  const server = await serveStatic();
  const browser = await launchBrowser({ webgpu: false });
  t.after(async () => {
    await browser.close();
    await server.close();
  });
  const page = await browser.newPage();
  const errors = watchConsole(page);
  const wasm = watchWasm(page);
  await page.goto(`${server.url}/tests/browser/pages/keras-mnist.html?train=${TRAIN_EXAMPLES}&test=${TEST_EXAMPLES}&epochs=${EPOCHS}`);
  const result = await page.evaluate(() => window.__result);
  assert.equal(result.error, undefined, result.error);
  console.log(`backend ${result.backend.backend}, test accuracy ${result.score.accuracy}`);

  assert.equal(result.backend.backend, 'cpu');
  // Without WebGPU the package loads the CPU core only.
  assert.deepEqual([...new Set(wasm)], ['/js/pkg/cpu/webcnn_bg.wasm']);
  assert.match(result.summary, /Total params: 34826/);
  assert.match(result.summary, /dropout\s+\(None, 1600\)/);
  assert.deepEqual(result.history.epoch, [0, 1, 2, 3]);
  assert.equal(result.history.history.loss.length, EPOCHS);
  assert.equal(result.history.history.val_accuracy.length, EPOCHS);
  assert.deepEqual(result.epochEnds.map((e) => e.epoch), [0, 1, 2, 3]);
  assert.ok(result.epochEnds.every((e) => e.loss > 0 && e.val_accuracy > 0), JSON.stringify(result.epochEnds));
  assert.ok(result.batchEnds >= EPOCHS, `onBatchEnd ran ${result.batchEnds} times`);
  assert.ok(result.history.history.loss[EPOCHS - 1] < result.history.history.loss[0], 'the loss falls');
  assert.ok(result.score.accuracy >= 0.95, `test accuracy ${result.score.accuracy}`);
  assert.deepEqual(result.predictions.shape, [3, 10]);
  for (let row = 0; row < 3; row++) {
    const sum = result.predictions.data.slice(row * 10, row * 10 + 10).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${row} sums to ${sum}`);
  }

  await t.test('frozen layers keep their weights', async () => {
    const out = await page.evaluate(async () => {
      const webcnn = await import('/js/src/index.js');
      const model = window.__model;
      const part = webcnn.datasets.take(window.__test, [...Array(200).keys()]);
      const before = await model.toBytes();
      model.layers[0].trainable = false;
      model.layers[2].trainable = false;
      const summary = await model.summary(null);
      model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: { type: 'sgd', learningRate: 0.05 } });
      await model.fit(part.x, part.y, { epochs: 1, batchSize: 50 });
      const after = await model.toBytes();
      return { before: Array.from(before), after: Array.from(after), summary };
    });
    assert.match(out.summary, /Non-trainable params: 18816/);
    const before = safetensors(out.before).tensor;
    const after = safetensors(out.after).tensor;
    for (const name of ['layers.0.kernel', 'layers.0.bias', 'layers.2.kernel']) {
      assert.ok(before(name).equals(after(name)), `${name} changed while frozen`);
    }
    assert.ok(!before('layers.6.kernel').equals(after('layers.6.kernel')), 'the dense kernel did not train');
  });

  await t.test('IndexedDB and Blob round trips are bit-exact', async () => {
    const out = await page.evaluate(async () => {
      const webcnn = await import('/js/src/index.js');
      const model = window.__model;
      const x = webcnn.datasets.take(window.__test, [5, 6, 7, 8]).x;
      await model.save('indexeddb://keras-mnist');
      const first = await webcnn.loadModel('indexeddb://keras-mnist');
      const second = await webcnn.loadModel('indexeddb://keras-mnist');
      const fromBlob = await webcnn.loadModel(new Blob([await model.toBytes()]));
      const outputs = [];
      for (const m of [model, first, second, fromBlob]) outputs.push(Array.from((await m.predict(x)).data));
      const saved = Array.from(await model.toBytes());
      const reloaded = Array.from(await first.toBytes());
      const missing = await webcnn.loadModel('indexeddb://no-such-model').then(() => 'loaded', (e) => e.message);
      return { outputs, saved, reloaded, missing, frozen: first.layers[0].trainable };
    });
    // Each write may order the JSON header differently, so compare its contents.
    const saved = safetensors(out.saved);
    const reloaded = safetensors(out.reloaded);
    assert.deepEqual(reloaded.header.__metadata__, saved.header.__metadata__);
    const names = Object.keys(saved.header).filter((name) => name !== '__metadata__');
    assert.equal(names.length, 6);
    for (const name of names) {
      assert.ok(saved.tensor(name).equals(reloaded.tensor(name)), `${name} changed in the round trip`);
    }
    for (const outputs of out.outputs.slice(1)) assert.deepEqual(outputs, out.outputs[0]);
    assert.equal(out.frozen, false);
    assert.match(out.missing, /no model named "no-such-model"/);
  });

  assert.deepEqual(errors, []);
});

test('fit reports batches and keeps optimizer state', { timeout: 5 * 60_000 }, async (t) => {
  const { page, errors } = await openBlankPage(t, { webgpu: false });
  const result = await page.evaluate(async () => {
    const webcnn = await import('/js/src/index.js');
    const digits = await webcnn.datasets.loadIdx('/data/mnist-10k-images-idx3-ubyte.gz', '/data/mnist-10k-labels-idx1-ubyte.gz');
    const order = webcnn.datasets.shuffledIndices(digits.y.data.length, 5);
    const train = webcnn.datasets.take(digits, order.slice(0, 200));
    const optimizer = { type: 'adam', learningRate: 0.01 };
    const build = () => {
      const model = webcnn.sequential([
        webcnn.layers.conv2d(4, { kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
        webcnn.layers.maxPooling2d(2),
        webcnn.layers.flatten(),
        webcnn.layers.dense(10, { activation: 'softmax' }),
      ]);
      model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer });
      return model;
    };
    // The same batches in every epoch and no dropout, so 2 + 1 epochs equal 3 epochs exactly
    // when the second fit goes on with the optimizer state.
    const fit = (model, epochs, onBatchEnd) => model.fit(train.x, train.y, {
      epochs, batchSize: 32, shuffle: false, seed: 3, callbacks: { onBatchEnd },
    });
    const batches = [];
    const record = (batch, logs) => batches.push({ batch, ...logs });
    const continued = build();
    const history = await fit(continued, 2, record);
    const first = batches.splice(0);
    await fit(continued, 1, record);
    const second = batches.splice(0);
    const whole = build();
    await fit(whole, 3);
    // compile() makes a new optimizer, as in Keras.
    const recompiled = build();
    await fit(recompiled, 2);
    recompiled.compile({ loss: 'sparseCategoricalCrossentropy', optimizer });
    await fit(recompiled, 1);
    const bytes = async (model) => Array.from(await model.toBytes());
    return {
      first,
      second,
      loss: history.history.loss,
      continued: await bytes(continued),
      whole: await bytes(whole),
      recompiled: await bytes(recompiled),
    };
  });

  // 200 examples in batches of 32: 7 steps per epoch, the last of 8 examples.
  const steps = [0, 1, 2, 3, 4, 5, 6];
  assert.deepEqual(result.first.map((b) => b.batch), [...steps, ...steps]);
  assert.deepEqual(result.second.map((b) => b.batch), steps);
  for (const { batch, loss, accuracy } of [...result.first, ...result.second]) {
    assert.ok(Number.isFinite(loss), `batch ${batch}: loss ${loss}`);
    assert.ok(loss > 0, `batch ${batch}: loss ${loss}`);
    assert.ok(accuracy >= 0, `batch ${batch}: accuracy ${accuracy}`);
    assert.ok(accuracy <= 1, `batch ${batch}: accuracy ${accuracy}`);
  }
  const sizes = [32, 32, 32, 32, 32, 32, 8];
  const epochLoss = result.first.slice(7).reduce((sum, b, i) => sum + b.loss * sizes[i], 0) / 200;
  assert.ok(Math.abs(epochLoss - result.loss[1]) < 1e-9, `batches give ${epochLoss}, epoch 2 ${result.loss[1]}`);
  assert.ok(result.second[0].loss < result.first[0].loss, 'the second fit started from the initial loss');

  const continued = safetensors(result.continued).tensor;
  const whole = safetensors(result.whole).tensor;
  const recompiled = safetensors(result.recompiled).tensor;
  const names = ['layers.0.kernel', 'layers.0.bias', 'layers.3.kernel', 'layers.3.bias'];
  for (const name of names) {
    assert.ok(continued(name).equals(whole(name)), `${name}: 2 + 1 epochs differ from 3 epochs`);
  }
  assert.ok(names.some((name) => !recompiled(name).equals(whole(name))), 'compile() kept the optimizer state');
  assert.deepEqual(errors, []);
});

test('the JS API trains on WebGPU', { timeout: 5 * 60_000 }, async (t) => {
  const { page, errors } = await openBlankPage(t, { webgpu: true });
  const wasm = watchWasm(page);
  // SwiftShader trains about 30 examples/s, so this run is short: it checks the path, not
  // the accuracy.
  const result = await page.evaluate(async () => {
    const webcnn = await import('/js/src/index.js');
    const digits = await webcnn.datasets.loadIdx('/data/mnist-10k-images-idx3-ubyte.gz', '/data/mnist-10k-labels-idx1-ubyte.gz');
    const order = webcnn.datasets.shuffledIndices(digits.y.data.length, 7);
    const train = webcnn.datasets.take(digits, order.slice(0, 320));
    const test = webcnn.datasets.take(digits, order.slice(320, 420));
    const model = webcnn.sequential([
      webcnn.layers.conv2d(8, { kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      webcnn.layers.maxPooling2d(2),
      webcnn.layers.flatten(),
      webcnn.layers.dense(10, { activation: 'softmax' }),
    ]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: { type: 'adam', learningRate: 0.003 } });
    const batches = [];
    const onBatchEnd = (batch, logs) => batches.push({ batch, ...logs });
    const history = await model.fit(train.x, train.y, { epochs: 2, batchSize: 32, callbacks: { onBatchEnd } });
    const score = await model.evaluate(test.x, test.y);
    return { backend: (await model.backend()).backend, loss: history.history.loss, batches, score };
  });
  assert.equal(result.backend, 'webgpu');
  // With WebGPU the package loads the WebGPU core only.
  assert.deepEqual([...new Set(wasm)], ['/js/pkg/webcnn_bg.wasm']);
  assert.equal(result.loss.length, 2);
  // 320 examples in batches of 32: 10 steps per epoch.
  const steps = [...Array(10).keys()];
  assert.deepEqual(result.batches.map((b) => b.batch), [...steps, ...steps]);
  const losses = result.batches.map((b) => b.loss);
  assert.ok(losses.every(Number.isFinite), `batch losses ${losses}`);
  assert.ok(losses.every((loss) => loss > 0), `batch losses ${losses}`);
  assert.ok(result.loss[1] < result.loss[0], `loss ${result.loss}`);
  assert.ok(result.score.accuracy > 0.5, `test accuracy ${result.score.accuracy}`);
  assert.deepEqual(errors, []);
});

test('a core that fails to load is an error', { timeout: 2 * 60_000 }, async (t) => {
  // Only a failed WebGPU device request falls back to the CPU core. A WebGPU core that cannot
  // load must reject, not train on the CPU in its place.
  const { page } = await openBlankPage(t, { webgpu: true });
  const wasm = watchWasm(page);
  await page.route('**/js/pkg/webcnn_bg.wasm', (route) => route.fulfill({ status: 404, body: 'missing' }));
  const message = await page.evaluate(async () => {
    const webcnn = await import('/js/src/index.js');
    const model = webcnn.sequential([
      webcnn.layers.flatten({ inputShape: [4, 4, 1] }),
      webcnn.layers.dense(2, { activation: 'softmax' }),
    ]);
    return model.backend().then((info) => `opened on ${info.backend}`, (error) => error.message);
  });
  assert.doesNotMatch(message, /^opened/);
  assert.ok(wasm.includes('/js/pkg/webcnn_bg.wasm'), `requested ${wasm}`);
  assert.ok(!wasm.includes('/js/pkg/cpu/webcnn_bg.wasm'), `requested ${wasm}`);
});

test('Keras models written by Python Keras load in the browser', { timeout: 5 * 60_000 }, async (t) => {
  // tests/data/keras: Python Keras models exported by the tensorflowjs converter, with Keras's
  // probabilities for held-out embedded digits (scripts/keras-fixture/make_fixture.py).
  const { page, errors } = await openBlankPage(t, { webgpu: false });
  const names = ['mnist-cnn', 'mnist-cnn-uint8', 'same-padding-float16', 'same-padding-keras-file', 'keras2-cnn'];
  for (const name of names) {
    const expected = JSON.parse(readFileSync(join(REPO_ROOT, 'tests/data/keras', name, 'expected.json'), 'utf8'));
    const { probes, predictions, labels } = await page.evaluate(async ({ name, expected }) => {
      const webcnn = await import('/js/src/index.js');
      const digits = await webcnn.datasets.loadIdx('/data/mnist-10k-images-idx3-ubyte.gz', '/data/mnist-10k-labels-idx1-ubyte.gz');
      const heldOut = webcnn.datasets.take(digits, expected.test_indices);
      const model = await webcnn.loadModel(`/tests/data/keras/${name}/model.json`);
      const outputs = (await model.predict(heldOut.x)).data;
      model.dispose();
      const predictions = [];
      for (let i = 0; i < heldOut.y.data.length; i++) {
        const row = Array.from(outputs.subarray(i * 10, (i + 1) * 10));
        predictions.push(row.indexOf(Math.max(...row)));
      }
      return { probes: Array.from(outputs.subarray(0, expected.probe_count * 10)), predictions, labels: Array.from(heldOut.y.data) };
    }, { name, expected });

    const worst = Math.max(...probes.map((v, i) => Math.abs(v - expected.probe_probabilities[Math.floor(i / 10)][i % 10])));
    console.log(`${name}: probabilities differ from Keras's by at most ${worst}`);
    assert.ok(worst <= 1e-4, `${name}: probabilities differ from Keras's by up to ${worst}`);
    // Near ties (top two within 2e-4) may go either way, but every other digit must agree.
    const ties = new Map(expected.near_ties.map((tie) => [tie.position, tie.top2]));
    let disagreements = 0;
    predictions.forEach((got, i) => {
      const want = expected.test_predictions[i];
      if (ties.has(i)) assert.ok(ties.get(i).includes(got), `${name}: held-out digit ${i} is predicted as ${got}`);
      else assert.equal(got, want, `${name}: held-out digit ${i} is predicted as ${got}, Keras predicts ${want}`);
      if (got !== want) disagreements++;
    });
    const correct = predictions.filter((p, i) => p === labels[i]).length;
    console.log(`${name}: ${correct} of ${labels.length} held-out digits correct, Keras ${expected.test_correct}`);
    assert.ok(Math.abs(correct - expected.test_correct) <= disagreements, `${name}: ${correct} correct, Keras ${expected.test_correct}`);
  }
  assert.deepEqual(errors, []);
});

test('Keras models saved by TensorFlow.js load in the browser', { timeout: 5 * 60_000 }, async (t) => {
  const fixtures = writeTfjsFixtures();
  const server = await serveStatic({ '/': REPO_ROOT, '/fixtures/': fixtures });
  const browser = await launchBrowser({ webgpu: false });
  t.after(async () => {
    await browser.close();
    await server.close();
    rmSync(fixtures, { recursive: true });
  });
  const page = await browser.newPage();
  await page.goto(`${server.url}/tests/browser/pages/blank.html`);
  for (const name of ['mnist-cnn', 'mixed', 'mnist-cnn-uint8', 'mixed-uint16', 'mixed-float16']) {
    const expected = JSON.parse(readFileSync(join(fixtures, name, 'expected.json'), 'utf8'));
    const outputs = await page.evaluate(async ({ name, expected }) => {
      const webcnn = await import('/js/src/index.js');
      const model = await webcnn.loadModel(`/fixtures/${name}/model.json`);
      const x = webcnn.tensor(Float32Array.from(expected.inputs), [6, ...expected.inputShape]);
      const outputs = Array.from((await model.predict(x)).data);
      model.dispose();
      return outputs;
    }, { name, expected });
    const worst = Math.max(...outputs.map((v, i) => Math.abs(v - expected.outputs[i])));
    assert.equal(outputs.length, expected.outputs.length);
    assert.ok(worst <= 1e-4, `${name}: outputs differ from tfjs's by up to ${worst}`);
  }
  await t.test('the CLI and the browser read each other\'s files', async () => {
    // The CLI converts the tfjs model into a webcnn file; the browser loads it and saves it.
    const cli = join(REPO_ROOT, 'target/release/webcnn');
    const fromCli = join(fixtures, 'from-cli.safetensors');
    execFileSync(cli, ['import', join(fixtures, 'mnist-cnn/model.json'), '--out', fromCli]);
    const expected = JSON.parse(readFileSync(join(fixtures, 'mnist-cnn', 'expected.json'), 'utf8'));
    const { outputs, saved } = await page.evaluate(async (expected) => {
      const webcnn = await import('/js/src/index.js');
      const model = await webcnn.loadModel('/fixtures/from-cli.safetensors');
      const x = webcnn.tensor(Float32Array.from(expected.inputs), [6, ...expected.inputShape]);
      const result = { outputs: Array.from((await model.predict(x)).data), saved: Array.from(await model.toBytes()) };
      model.dispose();
      return result;
    }, expected);
    const worst = Math.max(...outputs.map((v, i) => Math.abs(v - expected.outputs[i])));
    assert.ok(worst <= 1e-4, `outputs differ from tfjs's by up to ${worst}`);
    const fromBrowser = join(fixtures, 'from-browser.safetensors');
    writeFileSync(fromBrowser, Buffer.from(saved));
    const log = execFileSync(cli, ['train', '--load', fromBrowser, '--epochs', '1', '--limit', '64'], {
      env: { ...process.env, XDG_RUNTIME_DIR: tmpdir() },
    }).toString();
    assert.match(log, /test: loss [0-9.]+ accuracy/);
  });

  const message = await page.evaluate(async () => {
    const webcnn = await import('/js/src/index.js');
    return webcnn.loadModel('/fixtures/truncated/model.json').then(() => 'loaded', (e) => e.message);
  });
  assert.match(message, /group2-shard1of1\.bin/);
  assert.match(message, /truncated/);
});
