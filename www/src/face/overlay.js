// Draws the detected face boxes over the preview, with their names, and a frame rate meter.

const KNOWN_COLOR = '#3ad07a';
const UNKNOWN_COLOR = '#f59e0b';

/**
 * Draws `faces` (boxes in pixels of a `width`x`height` frame) on the overlay canvas, which
 * lies over the preview: the name and confidence of a recognised face (its `label`), otherwise
 * the detection score. Records them in its `data-boxes` attribute and counts the frames drawn
 * in `data-frames`.
 * @param {HTMLCanvasElement} overlay
 * @param {{left: number, top: number, right: number, bottom: number, score: number,
 *   label?: {name: string, confidence: number, known: boolean}}[]} faces
 */
export function drawBoxes(overlay, faces, width, height) {
  if (overlay.width !== width || overlay.height !== height) {
    overlay.width = width;
    overlay.height = height;
  }
  const context = overlay.getContext('2d');
  context.clearRect(0, 0, width, height);
  const line = Math.max(2, Math.round(width / 200));
  context.lineWidth = line;
  context.font = `${6 * line}px system-ui, sans-serif`;
  context.textBaseline = 'bottom';
  for (const face of faces) {
    const { label } = face;
    const color = label && !label.known ? UNKNOWN_COLOR : KNOWN_COLOR;
    const text = label ? `${label.name} ${Math.round(label.confidence * 100)} %` : `${Math.round(face.score * 100)} %`;
    context.strokeStyle = color;
    context.strokeRect(face.left, face.top, face.right - face.left, face.bottom - face.top);
    context.fillStyle = color;
    context.fillText(text, face.left, face.top - line);
  }
  const boxes = faces.map(({ left, top, right, bottom, score, label }) => ({ left, top, right, bottom, score, name: label?.name }));
  overlay.dataset.boxes = JSON.stringify(boxes);
  overlay.dataset.width = String(width);
  overlay.dataset.height = String(height);
  overlay.dataset.frames = String(Number(overlay.dataset.frames ?? 0) + 1);
}

/** Frames per second over the last few frames. */
export class RateMeter {
  /** @param {number} window frames the rate is averaged over */
  constructor(window = 10) {
    this.window = window;
    this.times = [];
  }

  /** Records a finished frame; returns the rate, or null until two frames have finished. */
  tick(now = performance.now()) {
    this.times.push(now);
    if (this.times.length > this.window + 1) this.times.shift();
    if (this.times.length < 2) return null;
    const seconds = (this.times.at(-1) - this.times[0]) / 1000;
    return (this.times.length - 1) / seconds;
  }

  /** Forgets the recorded frames (when the source changes). */
  reset() {
    this.times = [];
  }
}
