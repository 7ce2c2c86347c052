// Type-checks the package's declarations (index.d.ts) against the Keras MNIST CNN as the README
// writes it; `tsc -p test` compiles it without emitting anything.

import * as webcnn from 'webcnn';
import type { TrainerDone } from 'webcnn/elements';

const { layers } = webcnn;

export async function kerasMnist(pixels: Float32Array, labels: Uint8Array): Promise<number> {
  const x = webcnn.tensor(pixels, [labels.length, 28, 28, 1]);
  const model = webcnn.sequential([
    webcnn.input({ shape: [28, 28, 1] }),
    layers.conv2d(32, { kernelSize: [3, 3], activation: 'relu' }),
    layers.maxPooling2d({ poolSize: [2, 2] }),
    layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    layers.averagePooling2d(2),
    layers.flatten(),
    layers.dropout(0.5),
    layers.dense(10, { activation: 'softmax' }),
  ]);
  const summary: string = await model.summary(null);
  model.compile({ loss: 'categoricalCrossentropy', optimizer: { type: 'adam', learningRate: 0.001 }, metrics: ['accuracy'] });
  const history = await model.fit(x, webcnn.toCategorical(labels, 10), {
    batchSize: 32,
    epochs: 2,
    validationSplit: 0.1,
    callbacks: {
      onBatchEnd: (batch: number, logs: webcnn.Logs) => console.log(batch, logs.loss, logs.accuracy),
      onEpochEnd: (epoch: number, logs: webcnn.Logs) => console.log(epoch, logs.val_accuracy),
    },
  });
  // A second fit goes on from the first one's weights and optimizer state.
  await model.fit(x, webcnn.toCategorical(labels, 10), { epochs: 1 });
  model.layers[0].trainable = false;
  const output: webcnn.Tensor = await model.predict(x);
  await model.save('indexeddb://mnist');
  const loaded = await webcnn.loadModel('indexeddb://mnist');
  const { accuracy } = await loaded.evaluate(x, labels);
  console.log(summary, history.history.loss, output.shape, (await model.backend()).backend);
  return accuracy;
}

export function elements(): void {
  const trainer = document.querySelector('webcnn-trainer');
  trainer?.addEventListener('done', (event) => {
    const detail = (event as CustomEvent<TrainerDone>).detail;
    const classifier = document.querySelector('webcnn-classifier');
    if (classifier) classifier.model = trainer.model;
    console.log(detail.accuracy);
  });
}
