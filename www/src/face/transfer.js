// Export and import of the enrolled face crops and the trained recogniser as one JSON file, so
// enrolments move between browsers without leaving the user's hands.

const FORMAT = 'webcnn-face-samples';
// Version 2 added the optional recogniser; version 1 files hold crops only.
const VERSION = 2;
// Largest crop side accepted from a file, in pixels.
const MAX_SIZE = 512;

/**
 * Packs stored crops ({person, size, rgb}) and the stored recogniser ({bytes, people,
 * centroids, trained}, or undefined) into the export file's JSON text.
 * @param {{person: string, size: number, rgb: Uint8Array}[]} records
 */
export function exportSamples(records, recogniser) {
  const samples = records.map(({ person, size, rgb }) => ({ person, size, rgb: toBase64(rgb) }));
  const file = { format: FORMAT, version: VERSION, samples };
  if (recogniser) {
    const { bytes, people, centroids, trained } = recogniser;
    file.recogniser = { model: toBase64(bytes), people, centroids, trained };
  }
  return JSON.stringify(file);
}

/**
 * Reads an export file's text back into `{samples, recogniser}`: the crops ({person, size,
 * rgb}) and the recogniser as stored, or null when the file has none. Throws an Error that
 * names the first invalid part when the text is not such a file.
 * @param {string} text
 * @param {string} name the file name, for messages
 */
export function importSamples(text, name) {
  let file;
  try {
    file = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not a face samples file (it is not JSON); pick a file that Export wrote.`);
  }
  if (file?.format !== FORMAT || ![1, VERSION].includes(file.version) || !Array.isArray(file.samples)) {
    throw new Error(`${name} is not a version 1 or ${VERSION} face samples file; pick a file that Export wrote.`);
  }
  const samples = file.samples.map((sample, index) => checkSample(sample, index, name));
  const recogniser = file.recogniser ? checkRecogniser(file.recogniser, name) : null;
  return { samples, recogniser };
}

// Checks the recogniser part of a file: class names, one unit-length mean feature vector per
// name, and the model file's bytes (which the worker checks in turn when it loads them).
function checkRecogniser(recogniser, name) {
  const invalid = (problem) => new Error(`the recogniser in ${name} has ${problem}; the file is damaged.`);
  const { people, centroids, trained } = recogniser;
  if (!Array.isArray(people) || people.length === 0 || !people.every((p) => typeof p === 'string' && p)) {
    throw invalid('no list of names');
  }
  const size = centroids?.[0]?.length;
  const valid = (vector) => Array.isArray(vector) && vector.length === size && vector.every(Number.isFinite);
  if (!Array.isArray(centroids) || centroids.length !== people.length || !size || !centroids.every(valid)) {
    throw invalid(`no mean features for each of its ${people.length} people`);
  }
  let bytes;
  try {
    bytes = fromBase64(recogniser.model);
  } catch {
    throw invalid('a model that is not base64');
  }
  return { bytes, people, centroids, trained: String(trained ?? 'before the import') };
}

function checkSample(sample, index, name) {
  const { person, size } = sample ?? {};
  const invalid = (problem) => new Error(`sample ${index} of ${name} has ${problem}; the file is damaged.`);
  if (typeof person !== 'string' || person.trim() === '') throw invalid('no person name');
  if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE) throw invalid(`an invalid size ${size}`);
  let rgb;
  try {
    rgb = fromBase64(sample.rgb);
  } catch {
    throw invalid('pixels that are not base64');
  }
  if (rgb.length !== size * size * 3) {
    throw invalid(`${rgb.length} bytes of pixels where a ${size}x${size} crop has ${size * size * 3}`);
  }
  return { person: person.trim(), size, rgb };
}

function toBase64(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

function fromBase64(text) {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}
