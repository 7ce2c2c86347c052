// Writes Keras models saved by TensorFlow.js (tfjs-layers model.json + weight shards) and
// tfjs's own predictions on random inputs, for tests/tfjs_import.rs and tests/browser/.
//
// Usage: node js/test/tfjs-fixtures.mjs OUT_DIR
// Each fixture is OUT_DIR/NAME/{model.json, *.bin, expected.json}; expected.json contains
// {inputShape, inputs, outputs} as flat arrays (NHWC inputs, [n, classes] outputs).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const EXAMPLES = 6;
// Shard size of the first weight group, small so that a tensor spans two files.
const SHARD_BYTES = 4000;

// The Keras MNIST CNN (keras.io/examples/vision/mnist_convnet), in tfjs's layer API.
function mnistCnn() {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

// Every option the importer maps: strides, same padding, dilation, no bias, average pooling,
// a standalone activation, tanh/sigmoid and linear outputs, a frozen layer.
function mixed() {
  return tf.sequential({
    layers: [
      tf.layers.inputLayer({ inputShape: [12, 10, 3] }),
      tf.layers.conv2d({
        filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', useBias: false,
      }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      tf.layers.conv2d({ filters: 5, kernelSize: [3, 2], dilationRate: 2, padding: 'same', activation: 'sigmoid', trainable: false }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: [2, 2], strides: [1, 2] }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 7, activation: 'tanh' }),
      tf.layers.dense({ units: 3 }),
    ],
  });
}

// Replaces every weight with uniform noise of the given scale, so that outputs differ clearly
// between inputs (freshly initialised models predict nearly uniform probabilities).
function randomiseWeights(model, scale) {
  const weights = model.getWeights().map((w) => tf.randomUniform(w.shape, -scale, scale, 'float32', 7));
  model.setWeights(weights);
}

async function artifactsOf(model) {
  let saved;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved;
}

// Quantises every tensor as tensorflowjs_converter --quantize_uint8/uint16/float16 does:
// uint8 and uint16 map [min, max] affinely onto the integer range (min and scale go in the
// manifest), float16 stores half floats.
function quantise(specs, data, dtype) {
  const floats = new Float32Array(data);
  const parts = [];
  const quantised = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const values = floats.subarray(offset, offset + count);
    offset += count;
    if (dtype === 'float16') {
      parts.push(new Uint8Array(Uint16Array.from(values, toHalf).buffer));
      quantised.push({ ...spec, quantization: { dtype } });
      continue;
    }
    const Out = dtype === 'uint8' ? Uint8Array : Uint16Array;
    const min = Math.min(...values);
    const scale = (Math.max(...values) - min) / (dtype === 'uint8' ? 255 : 65535) || 1;
    const out = Out.from(values, (v) => Math.round((v - min) / scale));
    parts.push(new Uint8Array(out.buffer));
    quantised.push({ ...spec, quantization: { dtype, min, scale } });
  }
  return { specs: quantised, data: concat(parts).buffer };
}

// The IEEE 754 half float nearest below or at `value` in magnitude (truncating the
// mantissa); normal numbers only, which the fixture weights are.
function toHalf(value) {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exponent <= 0) return sign;
  return sign | (exponent << 10) | ((bits >>> 13) & 0x3ff);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function specBytes(spec) {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const width = { uint8: 1, uint16: 2, float16: 2 }[spec.quantization?.dtype] ?? 4;
  return count * width;
}

// Writes model.json with two weight groups: the first half of the tensors in shards of
// SHARD_BYTES, the rest in one file, as tensorflowjs_converter lays out sharded weights.
function writeModel(dir, topology, specs, data) {
  const bytes = new Uint8Array(data);
  const half = Math.ceil(specs.length / 2);
  const firstBytes = specs.slice(0, half).reduce((n, s) => n + specBytes(s), 0);
  const first = bytes.subarray(0, firstBytes);
  const paths = [];
  for (let start = 0, i = 1; start < first.length; start += SHARD_BYTES, i++) {
    const name = `group1-shard${i}.bin`;
    writeFileSync(join(dir, name), first.subarray(start, start + SHARD_BYTES));
    paths.push(name);
  }
  writeFileSync(join(dir, 'group2-shard1of1.bin'), bytes.subarray(firstBytes));
  const manifest = [
    { paths, weights: specs.slice(0, half) },
    { paths: ['group2-shard1of1.bin'], weights: specs.slice(half) },
  ];
  const json = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
    convertedBy: null,
    modelTopology: topology,
    weightsManifest: manifest,
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
}

async function writeFixture(outDir, name, model, quantisation) {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  const artifacts = await artifactsOf(model);
  let { weightSpecs: specs, weightData: data } = artifacts;
  let reference = model;
  if (quantisation) {
    ({ specs, data } = quantise(specs, data, quantisation));
    // tfjs's own dequantisation gives the expected outputs.
    reference = await tf.loadLayersModel(tf.io.fromMemory({
      modelTopology: artifacts.modelTopology, weightSpecs: specs, weightData: data,
    }));
  }
  writeModel(dir, artifacts.modelTopology, specs, data);
  const inputShape = model.inputs[0].shape.slice(1);
  const inputs = tf.randomUniform([EXAMPLES, ...inputShape], 0, 1, 'float32', 11);
  const outputs = reference.predict(inputs);
  writeFileSync(join(dir, 'expected.json'), JSON.stringify({
    inputShape,
    inputs: Array.from(inputs.dataSync()),
    outputs: Array.from(outputs.dataSync()),
  }));
}

async function main() {
  const outDir = process.argv[2];
  if (!outDir) throw new Error('usage: node tfjs-fixtures.mjs OUT_DIR');
  await tf.setBackend('cpu');
  const cnn = mnistCnn();
  randomiseWeights(cnn, 0.3);
  const other = mixed();
  randomiseWeights(other, 0.8);
  await writeFixture(outDir, 'mnist-cnn', cnn);
  await writeFixture(outDir, 'mixed', other);
  await writeFixture(outDir, 'mnist-cnn-uint8', cnn, 'uint8');
  await writeFixture(outDir, 'mixed-uint16', other, 'uint16');
  await writeFixture(outDir, 'mixed-float16', other, 'float16');
}

await main();
