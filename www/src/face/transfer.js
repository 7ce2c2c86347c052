// Export and import of the enrolled face crops as one JSON file, so enrolments move between
// browsers without leaving the user's hands.

const FORMAT = 'webcnn-face-samples';
const VERSION = 1;
// Largest crop side accepted from a file, in pixels.
const MAX_SIZE = 512;

/**
 * Packs stored crops ({person, size, rgb}) into the export file's JSON text.
 * @param {{person: string, size: number, rgb: Uint8Array}[]} records
 */
export function exportSamples(records) {
  const samples = records.map(({ person, size, rgb }) => ({ person, size, rgb: toBase64(rgb) }));
  return JSON.stringify({ format: FORMAT, version: VERSION, samples });
}

/**
 * Reads an export file's text back into crops ({person, size, rgb}). Throws an Error that names
 * the first invalid part when the text is not such a file.
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
  if (file?.format !== FORMAT || file.version !== VERSION || !Array.isArray(file.samples)) {
    throw new Error(`${name} is not a version ${VERSION} face samples file; pick a file that Export wrote.`);
  }
  return file.samples.map((sample, index) => checkSample(sample, index, name));
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
