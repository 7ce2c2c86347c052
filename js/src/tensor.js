// Plain tensors: a typed array and a shape, the form every input and output of the API takes.

/** Returns {data, shape} after checking that `data` has product(shape) values. */
export function tensor(data, shape) {
  if (!ArrayBuffer.isView(data) && !Array.isArray(data)) {
    throw new Error('tensor data must be a typed array or an array of numbers');
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new Error(`tensor data has ${data.length} values, but shape ${JSON.stringify(shape)} needs ${size}`);
  }
  return { data, shape };
}

/** Accepts {data, shape} or a bare typed array (shape [length]); returns {data, shape}. */
export function asTensor(value, what) {
  if (value && value.data !== undefined && Array.isArray(value.shape)) return tensor(value.data, value.shape);
  if (ArrayBuffer.isView(value) || Array.isArray(value)) return tensor(value, [value.length]);
  throw new Error(`${what} must be {data, shape} (see webcnn.tensor) or a typed array`);
}

/** One-hot encodes integer labels into [n, classes], as keras.utils.to_categorical. */
export function toCategorical(labels, classes) {
  const y = asTensor(labels, 'labels');
  const out = new Float32Array(y.data.length * classes);
  y.data.forEach((label, i) => {
    if (!Number.isInteger(Number(label)) || label < 0 || label >= classes) {
      throw new Error(`label ${i} is ${label}; labels must be integers in [0, ${classes})`);
    }
    out[i * classes + Number(label)] = 1;
  });
  return tensor(out, [y.data.length, classes]);
}

/** Class indices from sparse labels [n] or one-hot rows [n, classes], as a Uint32Array. */
export function labelIndices(labels) {
  const y = asTensor(labels, 'y');
  if (y.shape.length === 1) {
    return Uint32Array.from(y.data, (label, i) => {
      if (!Number.isInteger(Number(label)) || label < 0) {
        throw new Error(`label ${i} is ${label}; labels must be non-negative integers`);
      }
      return Number(label);
    });
  }
  if (y.shape.length !== 2) throw new Error(`y has shape ${JSON.stringify(y.shape)}; pass [n] labels or [n, classes] one-hot rows`);
  const [n, classes] = y.shape;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const row = Array.from(y.data.slice(i * classes, (i + 1) * classes), Number);
    const hot = row.indexOf(1);
    if (hot < 0 || row.some((v, c) => v !== (c === hot ? 1 : 0))) {
      throw new Error(`row ${i} of y is not one-hot; categoricalCrossentropy takes one-hot rows (use toCategorical)`);
    }
    out[i] = hot;
  }
  return out;
}
