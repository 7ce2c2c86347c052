// Draw pad for image models. Strokes are white on black, as in MNIST. Each change is reduced to
// the model's input the way MNIST digits were prepared: the ink is scaled to fit 20/28 of the
// height and width, then centred on its centre of mass. Every channel gets the grey value, and
// `onDrawing` receives the result at most once per animation frame.

// Fraction of the input's height and width that the ink is scaled to fit: MNIST's 20 of 28.
const BOX_FRACTION = 20 / 28;

/** Throws unless `shape` is an image shape [height, width, channels] with 1 or 3 channels. */
export function checkImageShape(shape) {
  const sizes = Array.isArray(shape) && shape.length === 3 && shape.every((d) => Number.isInteger(d) && d > 0);
  if (!sizes || (shape[2] !== 1 && shape[2] !== 3)) {
    throw new Error(
      `the draw pad draws grey or RGB images, but the model takes input of shape ${JSON.stringify(shape)}; `
      + 'use a model whose input is [height, width, 1] or [height, width, 3]',
    );
  }
}

export class DrawPad {
  /** Calls `onDrawing(pixels)` with the drawing as `shape` ([height, width, channels]) values. */
  constructor(canvas, onDrawing, shape = [28, 28, 1]) {
    this.canvas = canvas;
    this.context = canvas.getContext('2d', { willReadFrequently: true });
    this.onDrawing = onDrawing;
    this.shape = shape;
    this.drawing = false;
    this.frameRequested = false;
    this.clear();
    canvas.addEventListener('pointerdown', (event) => {
      this.drawing = true;
      canvas.setPointerCapture(event.pointerId);
      this.last = this.point(event);
      this.stroke(this.last);
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!this.drawing) return;
      this.stroke(this.point(event));
    });
    const end = () => {
      this.drawing = false;
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** The [height, width, channels] of the pixels handed to `onDrawing`. Setting a shape that
   * is not an image with 1 or 3 channels throws. */
  get shape() {
    return this.inputShape;
  }

  set shape(shape) {
    checkImageShape(shape);
    this.inputShape = [...shape];
  }

  clear() {
    this.context.fillStyle = '#000';
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * this.canvas.width) / rect.width,
      y: ((event.clientY - rect.top) * this.canvas.height) / rect.height,
    };
  }

  stroke(to) {
    const context = this.context;
    context.strokeStyle = '#fff';
    context.lineWidth = this.canvas.width / 13;
    context.lineCap = 'round';
    context.beginPath();
    context.moveTo(this.last.x, this.last.y);
    context.lineTo(to.x, to.y);
    context.stroke();
    this.last = to;
    this.empty = false;
    if (!this.frameRequested) {
      this.frameRequested = true;
      requestAnimationFrame(() => {
        this.frameRequested = false;
        const pixels = this.pixels();
        if (pixels) this.onDrawing(pixels);
      });
    }
  }

  /** Returns the drawing as height x width x channels values in [0, 1] (NHWC), or null when
   * nothing is drawn. */
  pixels() {
    const ink = this.inkBox();
    if (!ink) return null;
    const [height, width, channels] = this.inputShape;
    const scale = BOX_FRACTION * Math.min(width / ink.width, height / ink.height);
    const small = document.createElement('canvas');
    small.width = width;
    small.height = height;
    const context = small.getContext('2d', { willReadFrequently: true });
    context.fillStyle = '#000';
    const drawAt = (dx, dy) => {
      context.fillRect(0, 0, width, height);
      context.drawImage(this.canvas, ink.left, ink.top, ink.width, ink.height, dx, dy, ink.width * scale, ink.height * scale);
      const data = context.getImageData(0, 0, width, height).data;
      const grey = new Float32Array(width * height);
      for (let i = 0; i < grey.length; i++) grey[i] = data[4 * i] / 255;
      return grey;
    };
    const x0 = (width - ink.width * scale) / 2;
    const y0 = (height - ink.height * scale) / 2;
    const [cx, cy] = centreOfMass(drawAt(x0, y0), width, height);
    const grey = drawAt(x0 + width / 2 - cx, y0 + height / 2 - cy);
    if (channels === 1) return grey;
    const values = new Float32Array(grey.length * channels);
    for (let i = 0; i < values.length; i++) values[i] = grey[Math.floor(i / channels)];
    return values;
  }

  // The bounding box of the ink on the pad, or null when the pad is blank.
  inkBox() {
    const { width, height } = this.canvas;
    const pixels = this.context.getImageData(0, 0, width, height).data;
    let [left, top, right, bottom] = [width, height, -1, -1];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (pixels[4 * (y * width + x)] > 0) {
          left = Math.min(left, x);
          right = Math.max(right, x);
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
        }
      }
    }
    if (right < 0) return null;
    return { left, top, width: right - left + 1, height: bottom - top + 1 };
  }
}

function centreOfMass(values, width, height) {
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x];
      mass += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return mass > 0 ? [sx / mass, sy / mass] : [width / 2, height / 2];
}
