// Live loss and accuracy curves (Chart.js). The x axis is in epochs: training points arrive
// within an epoch at fractional positions, validation points at epoch ends.

import {
  Chart,
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  Legend,
  Tooltip,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

const COLORS = {
  train: '#2563eb',
  validation: '#dc2626',
};
const OVERLAY_COLORS = ['#059669', '#9333ea', '#d97706', '#0891b2', '#be185d', '#4b5563'];

function lineChart(canvas, title, yMax) {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      plugins: {
        legend: { labels: { boxWidth: 12 } },
      },
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: 'epoch' } },
        y: { type: 'linear', min: 0, max: yMax, title: { display: true, text: title } },
      },
    },
  });
}

function series(label, color, dashed = false) {
  return {
    label,
    data: [],
    borderColor: color,
    backgroundColor: color,
    borderWidth: dashed ? 1.5 : 2,
    borderDash: dashed ? [6, 4] : [],
    pointRadius: 0,
    pointHitRadius: 6,
  };
}

export class Curves {
  constructor(lossCanvas, accuracyCanvas) {
    this.loss = lineChart(lossCanvas, 'loss', undefined);
    this.accuracy = lineChart(accuracyCanvas, 'accuracy', 1);
    this.overlays = new Map();
    this.reset(1);
  }

  // Clears the current run's curves; `epochs` sets the x range.
  reset(epochs) {
    for (const chart of [this.loss, this.accuracy]) {
      const kept = chart.data.datasets.filter((d) => d.overlay);
      chart.data.datasets = [
        series('training', COLORS.train),
        series('validation', COLORS.validation),
        ...kept,
      ];
      chart.options.scales.x.max = epochs;
      chart.update('none');
    }
  }

  // Adds a training point at fractional epoch `x`.
  addTraining(x, loss, accuracy) {
    this.loss.data.datasets[0].data.push({ x, y: loss });
    this.accuracy.data.datasets[0].data.push({ x, y: accuracy });
  }

  addValidation(epoch, loss, accuracy) {
    this.loss.data.datasets[1].data.push({ x: epoch, y: loss });
    this.accuracy.data.datasets[1].data.push({ x: epoch, y: accuracy });
  }

  // Redraws both charts; callers batch points and call this at most once per frame.
  draw() {
    this.loss.update('none');
    this.accuracy.update('none');
  }

  // Shows or hides the per-epoch curves of an earlier run.
  setOverlay(run, shown) {
    for (const chart of [this.loss, this.accuracy]) {
      chart.data.datasets = chart.data.datasets.filter((d) => d.overlay !== run.id);
    }
    if (shown) {
      const color = OVERLAY_COLORS[run.id % OVERLAY_COLORS.length];
      const points = (key) => run.epochs.map((r) => ({ x: r.epoch, y: r[key] })).filter((p) => p.y != null);
      const add = (chart, key, label, dashed) => {
        const dataset = series(`${run.label}: ${label}`, color, dashed);
        dataset.overlay = run.id;
        dataset.pointRadius = 2;
        dataset.data = points(key);
        chart.data.datasets.push(dataset);
      };
      add(this.loss, 'loss', 'training', false);
      add(this.loss, 'val_loss', 'validation', true);
      add(this.accuracy, 'accuracy', 'training', false);
      add(this.accuracy, 'val_accuracy', 'validation', true);
      const epochs = Math.max(this.loss.options.scales.x.max, run.epochs.length);
      this.loss.options.scales.x.max = epochs;
      this.accuracy.options.scales.x.max = epochs;
    }
    this.draw();
  }
}
