// Test results: accuracy, per-class precision/recall/F1, confusion matrix and the gallery of
// misclassified test digits.

import { imageCanvas } from './digits.js';

// Gallery size; the count of all misclassified digits is shown beside it.
const GALLERY_SIZE = 48;

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

export function showAccuracy(element, detail, evaluation) {
  element.textContent = (evaluation.accuracy * 100).toFixed(2);
  element.dataset.value = String(evaluation.accuracy);
  const total = evaluation.predictions.length;
  const correct = total - evaluation.misclassified.length;
  detail.textContent = `${correct} of ${total} test digits correct, loss ${evaluation.loss.toFixed(4)}`;
}

export function showPerClass(table, perClass) {
  const head = document.createElement('tr');
  for (const title of ['class', 'precision', 'recall', 'F1', 'support']) head.append(cell('th', title));
  const rows = perClass.map((metrics, label) => {
    const tr = document.createElement('tr');
    tr.append(
      cell('th', String(label)),
      cell('td', metrics.precision.toFixed(3), 'num'),
      cell('td', metrics.recall.toFixed(3), 'num'),
      cell('td', metrics.f1.toFixed(3), 'num'),
      cell('td', String(metrics.support), 'num'),
    );
    return tr;
  });
  table.replaceChildren(head, ...rows);
}

export function showConfusion(table, confusion) {
  const head = document.createElement('tr');
  head.append(cell('th', ''));
  confusion.forEach((_, label) => head.append(cell('th', String(label))));
  const largest = Math.max(1, ...confusion.flatMap((row, i) => row.filter((_, j) => j !== i)));
  const rows = confusion.map((row, label) => {
    const tr = document.createElement('tr');
    tr.append(cell('th', String(label)));
    row.forEach((count, predicted) => {
      const td = cell('td', String(count), 'num');
      if (predicted === label) td.classList.add('diagonal');
      else if (count > 0) td.style.backgroundColor = `rgba(220, 38, 38, ${0.15 + 0.6 * (count / largest)})`;
      tr.append(td);
    });
    return tr;
  });
  table.replaceChildren(head, ...rows);
}

// `images` holds the pixels of the first misclassified digits, in the order of `misclassified`.
export function showGallery(container, countElement, misclassified, images, [height, width]) {
  countElement.textContent = `(${misclassified.length} in all, the first ${Math.min(GALLERY_SIZE, misclassified.length)} shown)`;
  const items = misclassified.slice(0, GALLERY_SIZE).map(([index, label, predicted], i) => {
    const figure = document.createElement('figure');
    figure.dataset.index = String(index);
    figure.append(imageCanvas(images[i], width, height));
    figure.append(cell('figcaption', `predicted ${predicted}, true ${label}`));
    return figure;
  });
  container.replaceChildren(...items);
}

export function galleryIndices(misclassified) {
  return misclassified.slice(0, GALLERY_SIZE).map(([index]) => index);
}
