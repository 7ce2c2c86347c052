// Draws the detected face boxes over the preview, and a frame rate meter.

/**
 * Draws `faces` (boxes in pixels of a `width`x`height` frame) on the overlay canvas, which
 * lies over the preview. Records them in its `data-boxes` attribute and counts the frames drawn
 * in `data-frames`.
 * @param {HTMLCanvasElement} overlay
 * @param {{left: number, top: number, right: number, bottom: number, score: number}[]} faces
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
    context.strokeStyle = '#3ad07a';
    context.strokeRect(face.left, face.top, face.right - face.left, face.bottom - face.top);
    context.fillStyle = '#3ad07a';
    context.fillText(`${Math.round(face.score * 100)} %`, face.left, face.top - line);
  }
  overlay.dataset.boxes = JSON.stringify(faces);
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
