// The face page's naming rule (www/src/face/recognise.js), run in Node without a browser: the
// most probable person is named only while enrolled, and the strangers' class is unknown.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { identify } from '../../www/src/face/recognise.js';

// Two people whose mean features point along the first and second axes. Class 2 is the
// strangers.
const PROFILE = { people: ['Eileen', 'Maria'], centroids: [[1, 0, 0], [0, 1, 0]] };
const THRESHOLD = 0.6;
const EILEEN_FACE = { probabilities: [0.9, 0.07, 0.03], features: [2, 0.1, 0] };
const MARIA_FACE = { probabilities: [0.05, 0.9, 0.05], features: [0.1, 3, 0] };

test('enrolled person is named', () => {
  const label = identify(EILEEN_FACE, PROFILE, THRESHOLD, new Set(['Eileen', 'Maria']));
  assert.equal(label.name, 'Eileen');
  assert.equal(label.known, true);
  assert.equal(label.probability, 0.9);
  assert.ok(label.similarity > 0.99, `similarity ${label.similarity}`);
});

test('deleted person is unknown', () => {
  const enrolled = new Set(['Maria']);
  const label = identify(EILEEN_FACE, PROFILE, THRESHOLD, enrolled);
  assert.equal(label.name, 'unknown');
  assert.equal(label.known, false);
  // The remaining person is still named.
  assert.equal(identify(MARIA_FACE, PROFILE, THRESHOLD, enrolled).name, 'Maria');
});

test('nobody enrolled names nobody', () => {
  for (const face of [EILEEN_FACE, MARIA_FACE]) {
    assert.equal(identify(face, PROFILE, THRESHOLD, new Set()).name, 'unknown');
  }
});

test('strangers class is unknown', () => {
  const face = { probabilities: [0.1, 0.1, 0.8], features: [1, 0, 0] };
  const label = identify(face, PROFILE, THRESHOLD, new Set(['Eileen', 'Maria']));
  assert.equal(label.name, 'unknown');
  assert.equal(label.known, false);
});
