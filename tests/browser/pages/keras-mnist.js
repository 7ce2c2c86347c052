// The Keras MNIST CNN example (keras.io/examples/vision/mnist_convnet) written with webcnn's
// JS API, trained on the embedded digits. The page stores its results in window.__result for
// tests/browser/package.test.mjs; the query sets the sizes (?train=N&test=N&epochs=N).

import * as webcnn from '/js/src/index.js';

const { layers } = webcnn;
const params = new URLSearchParams(location.search);
const trainCount = Number(params.get('train') ?? 5000);
const testCount = Number(params.get('test') ?? 1000);
const epochs = Number(params.get('epochs') ?? 3);
// Keras trains 15 epochs of batch 128 on 60,000 digits; 10,000 digits need smaller batches.
const batchSize = 32;

async function run() {
  // (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
  const digits = await webcnn.datasets.loadIdx(
    '/data/mnist-10k-images-idx3-ubyte.gz',
    '/data/mnist-10k-labels-idx1-ubyte.gz',
  );
  // The embedded digits are sorted by class.
  const order = webcnn.datasets.shuffledIndices(digits.y.data.length, 42);
  const train = webcnn.datasets.take(digits, order.slice(0, trainCount));
  const test = webcnn.datasets.take(digits, order.slice(trainCount, trainCount + testCount));

  const numClasses = 10;
  const inputShape = [28, 28, 1];
  const yTrain = webcnn.toCategorical(train.y, numClasses);
  const yTest = webcnn.toCategorical(test.y, numClasses);

  const model = webcnn.sequential([
    webcnn.input({ shape: inputShape }),
    layers.conv2d(32, { kernelSize: [3, 3], activation: 'relu' }),
    layers.maxPooling2d({ poolSize: [2, 2] }),
    layers.conv2d(64, { kernelSize: [3, 3], activation: 'relu' }),
    layers.maxPooling2d({ poolSize: [2, 2] }),
    layers.flatten(),
    layers.dropout(0.5),
    layers.dense(numClasses, { activation: 'softmax' }),
  ]);
  const summary = await model.summary();

  model.compile({ loss: 'categoricalCrossentropy', optimizer: 'adam', metrics: ['accuracy'] });
  const epochEnds = [];
  let batchEnds = 0;
  const history = await model.fit(train.x, yTrain, {
    batchSize,
    epochs,
    validationSplit: 0.1,
    callbacks: {
      onBatchEnd: () => { batchEnds += 1; },
      onEpochEnd: (epoch, logs) => epochEnds.push({ epoch, ...logs }),
    },
  });

  const score = await model.evaluate(test.x, yTest);
  const predictions = await model.predict(webcnn.datasets.take(test, [0, 1, 2]).x);
  window.__model = model;
  window.__test = test;
  return {
    backend: await model.backend(),
    summary,
    history,
    epochEnds,
    batchEnds,
    score,
    predictions: { shape: predictions.shape, data: Array.from(predictions.data) },
  };
}

window.__result = run().catch((error) => ({ error: error.message }));
