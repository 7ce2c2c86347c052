// The face recogniser: the small CNN that learns the enrolled crops, each person's mean
// features, and the rule that names a face or calls it unknown.

/** Side of the crops the recogniser takes, in pixels (RGB). */
export const CROP_SIZE = 64;

/**
 * Model config of the recogniser for `classes` classes: the enrolled people and, last, the
 * strangers. Layers whose index is in `frozen` are
 * not trained. The layer before the last gives the face features (64 values, after ReLU).
 * @param {number} classes
 * @param {Set<number>} frozen
 */
export function recogniserConfig(classes, frozen = new Set()) {
  const layers = [
    { type: 'conv2d', filters: 16, kernel_size: [3, 3], activation: 'relu' },
    { type: 'max_pool2d', pool_size: [2, 2] },
    { type: 'conv2d', filters: 32, kernel_size: [3, 3], activation: 'relu' },
    { type: 'max_pool2d', pool_size: [2, 2] },
    { type: 'conv2d', filters: 64, kernel_size: [3, 3], activation: 'relu' },
    { type: 'max_pool2d', pool_size: [2, 2] },
    { type: 'flatten' },
    { type: 'dense', units: 64, activation: 'relu' },
    { type: 'dropout', rate: 0.3 },
    { type: 'dense', units: classes, activation: 'softmax' },
  ];
  for (const index of frozen) layers[index].trainable = false;
  return { input_shape: [CROP_SIZE, CROP_SIZE, 3], layers };
}

/** Indices and names of the recogniser's layers with weights, for the freeze toggles. */
export function trainableLayers() {
  return recogniserConfig(2)
    .layers.map((layer, index) => ({ index, layer }))
    .filter(({ layer }) => layer.type === 'conv2d' || layer.type === 'dense')
    .map(({ index, layer }) => ({
      index,
      name: layer.type === 'conv2d' ? `conv ${layer.filters}` : `dense ${index === 9 ? 'output' : layer.units}`,
      lower: layer.type === 'conv2d',
    }));
}

/** Returns `vector` scaled to length 1 (a zero vector stays zero). */
function normalise(vector) {
  const length = Math.hypot(...vector);
  return length > 0 ? vector.map((value) => value / length) : vector.map(() => 0);
}

function dot(a, b) {
  return a.reduce((sum, value, index) => sum + value * b[index], 0);
}

/**
 * Mean unit-length feature vector of each class: `features` contains `labels.length` vectors,
 * one per crop, flat. Returns one vector per class, itself of length 1.
 * @param {Float32Array} features
 * @param {Uint32Array} labels
 * @param {number} classes
 */
export function centroids(features, labels, classes) {
  const size = features.length / labels.length;
  const sums = Array.from({ length: classes }, () => new Array(size).fill(0));
  labels.forEach((label, index) => {
    const vector = normalise(Array.from(features.subarray(index * size, (index + 1) * size)));
    vector.forEach((value, i) => {
      sums[label][i] += value;
    });
  });
  return sums.map(normalise);
}

/**
 * Names one face. The model's last class stands for strangers (the reference faces): when it is
 * the most probable, the face is unknown. Otherwise the confidence in the most probable person is
 * the lower of the model's probability and the cosine similarity between the face's features
 * and that person's mean features. So a face unlike the person's crops scores low even when
 * the softmax is sure. Below `threshold` the face is unknown too. A person missing from
 * `enrolled` (deleted since the model was trained) is never named. When their class is the most
 * probable, the face is unknown, as for the strangers' class. Returns {name, confidence, known,
 * probability, similarity}.
 * @param {{probabilities: number[], features: number[]}} face
 * @param {{people: string[], centroids: number[][]}} profile
 * @param {number} threshold
 * @param {Set<string>} enrolled the names of the people enrolled now
 */
export function identify(face, profile, threshold, enrolled) {
  const { probabilities, features } = face;
  let best = 0;
  probabilities.forEach((p, index) => {
    if (p > probabilities[best]) best = index;
  });
  const probability = probabilities[best];
  if (best >= profile.people.length || !enrolled.has(profile.people[best])) {
    return { name: 'unknown', confidence: probability, known: false, probability, similarity: 0 };
  }
  const similarity = Math.max(0, dot(normalise(features), profile.centroids[best]));
  const confidence = Math.min(probability, similarity);
  const known = confidence >= threshold;
  return { name: known ? profile.people[best] : 'unknown', confidence, known, probability, similarity };
}
