// Conv kernels and per-layer activations of one test image.

import { channelOf, imageCanvas, minMax, paintGrey } from './digits.js';

// Channels drawn per layer; deeper layers have up to 64 and the rest add little.
const MAX_CHANNELS = 32;

function heading(text) {
  const h = document.createElement('h4');
  h.textContent = text;
  return h;
}

function greyCanvas(values, width, height, low, high) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.className = 'map';
  paintGrey(canvas, values, width, height, low, high);
  return canvas;
}

// One KHxKW plane per filter: the kernel summed over its input channels.
function kernelPlanes({ shape, values }) {
  const [kh, kw, cin, cout] = shape;
  const planes = [];
  for (let o = 0; o < Math.min(cout, MAX_CHANNELS); o++) {
    const plane = new Float32Array(kh * kw);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cin; i++) plane[y * kw + x] += values[((y * kw + x) * cin + i) * cout + o];
      }
    }
    planes.push(plane);
  }
  return planes;
}

export function showInspection(container, { image, label, kernels, activations }, [height, width]) {
  const parts = [];
  const input = document.createElement('div');
  input.className = 'inspect-input';
  input.append(imageCanvas(image, width, height, 'digit large'), ` true label ${label}`);
  parts.push(input);

  for (const kernel of kernels) {
    const [kh, kw, cin, cout] = kernel.shape;
    const note = cin > 1 ? ', summed over input channels' : '';
    parts.push(heading(`layer ${kernel.layer} conv2d kernels (${kh}×${kw}×${cin}×${cout}${note})`));
    const planes = kernelPlanes(kernel);
    const [low, high] = minMax(planes.flatMap((p) => Array.from(p)));
    const row = document.createElement('div');
    row.className = 'maps';
    row.dataset.testid = `kernels-${kernel.layer}`;
    row.append(...planes.map((plane) => greyCanvas(plane, kw, kh, low, high)));
    parts.push(row);
  }

  for (const activation of activations) {
    const [h, w, c] = activation.shape;
    const shown = Math.min(c, MAX_CHANNELS);
    parts.push(heading(`layer ${activation.layer} ${activation.kind} output (${h}×${w}×${c}, ${shown} channels shown)`));
    const [low, high] = minMax(activation.values);
    const row = document.createElement('div');
    row.className = 'maps';
    row.dataset.testid = `activations-${activation.layer}`;
    for (let channel = 0; channel < shown; channel++) {
      row.append(greyCanvas(channelOf(activation.values, h, w, c, channel), w, h, low, high));
    }
    parts.push(row);
  }
  container.replaceChildren(...parts);
}
