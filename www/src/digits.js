// Drawing helpers for grey images given as flat arrays of values.

// Draws an HxW image with values in [0, 1] (0 black) into a new canvas, scaled by CSS.
export function imageCanvas(values, width, height, className = 'digit') {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.className = className;
  paintGrey(canvas, values, width, height, 0, 1);
  return canvas;
}

// Paints values mapped linearly from [low, high] to black..white.
export function paintGrey(canvas, values, width, height, low, high) {
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  const range = high - low || 1;
  for (let i = 0; i < width * height; i++) {
    const grey = Math.round(255 * Math.min(1, Math.max(0, (values[i] - low) / range)));
    image.data[4 * i] = grey;
    image.data[4 * i + 1] = grey;
    image.data[4 * i + 2] = grey;
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

// Channel `channel` of an HWC tensor as a flat HxW array.
export function channelOf(values, height, width, channels, channel) {
  const plane = new Float32Array(height * width);
  for (let i = 0; i < height * width; i++) plane[i] = values[i * channels + channel];
  return plane;
}

export function minMax(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  return [low, high];
}
