// A small line chart on a canvas for the trainer element: one line per series, the y axis
// from 0 to the largest value (at least 1), one x step per epoch.

const COLORS = ['#2563eb', '#f97316', '#16a34a', '#dc2626'];

/** Draws `series` ([{label, values}]) into `canvas` over `epochs` epochs. */
export function plotLines(canvas, series, epochs) {
  const context = canvas.getContext('2d');
  const { width, height } = canvas;
  const pad = 24;
  context.clearRect(0, 0, width, height);
  context.strokeStyle = '#9ca3af';
  context.strokeRect(pad, 4, width - pad - 4, height - pad);
  const top = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => pad + ((width - pad - 4) * (i + 1)) / Math.max(1, epochs);
  const y = (v) => 4 + (height - pad - 4) * (1 - v / top);
  context.font = '10px sans-serif';
  context.fillStyle = '#6b7280';
  context.fillText(top.toFixed(1), 2, 12);
  context.fillText('0', 10, height - pad);
  series.forEach((s, index) => {
    context.strokeStyle = COLORS[index % COLORS.length];
    context.fillStyle = context.strokeStyle;
    context.beginPath();
    s.values.forEach((v, i) => (i ? context.lineTo(x(i), y(v)) : context.moveTo(x(i), y(v))));
    context.stroke();
    s.values.forEach((v, i) => context.fillRect(x(i) - 2, y(v) - 2, 4, 4));
    context.fillText(s.label, pad + 4 + index * 80, height - 6);
  });
}
