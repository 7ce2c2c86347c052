// Draw-a-digit pad. Strokes are white on black, as in MNIST; each change is reduced to 28x28
// the way MNIST digits were prepared (ink fitted into a 20x20 box, then centred on its centre
// of mass) and handed to `onDigit` at most once per animation frame.

const SIZE = 28;
const BOX = 20;

export class DrawPad {
  constructor(canvas, onDigit) {
    this.canvas = canvas;
    this.context = canvas.getContext('2d', { willReadFrequently: true });
    this.onDigit = onDigit;
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
        const digit = this.digit();
        if (digit) this.onDigit(digit);
      });
    }
  }

  // The drawing as 784 values in [0, 1], or null when nothing is drawn.
  digit() {
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
    const boxWidth = right - left + 1;
    const boxHeight = bottom - top + 1;
    const scale = BOX / Math.max(boxWidth, boxHeight);
    const small = document.createElement('canvas');
    small.width = SIZE;
    small.height = SIZE;
    const context = small.getContext('2d', { willReadFrequently: true });
    context.fillStyle = '#000';
    context.fillRect(0, 0, SIZE, SIZE);
    const drawAt = (dx, dy) => {
      context.fillRect(0, 0, SIZE, SIZE);
      context.drawImage(this.canvas, left, top, boxWidth, boxHeight, dx, dy, boxWidth * scale, boxHeight * scale);
      const data = context.getImageData(0, 0, SIZE, SIZE).data;
      const values = new Float32Array(SIZE * SIZE);
      for (let i = 0; i < values.length; i++) values[i] = data[4 * i] / 255;
      return values;
    };
    const x0 = (SIZE - boxWidth * scale) / 2;
    const y0 = (SIZE - boxHeight * scale) / 2;
    const values = drawAt(x0, y0);
    const [cx, cy] = centreOfMass(values);
    return drawAt(x0 + SIZE / 2 - cx, y0 + SIZE / 2 - cy);
  }
}

function centreOfMass(values) {
  let mass = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const v = values[y * SIZE + x];
      mass += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return mass > 0 ? [sx / mass, sy / mass] : [SIZE / 2, SIZE / 2];
}
