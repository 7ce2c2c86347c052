// Layer constructors in Keras's terms (tf.keras.layers / tfjs layers), producing webcnn's JSON
// layer configs. Options are camelCase as in TensorFlow.js; the first positional argument may
// be the main size as in Keras (`conv2d(32, {kernelSize: 3})`, `dense(10)`, `dropout(0.5)`).

const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'softmax'];

/** A layer of a sequential model; `trainable` freezes conv2d and dense layers when false. */
export class Layer {
  constructor(type, config, inputShape = null) {
    this.type = type;
    this.config = config;
    this.inputShape = inputShape;
    this.trainable = config.trainable ?? true;
  }

  /** Returns the layer's webcnn JSON config. */
  toConfig() {
    const config = { type: this.type, ...this.config };
    if ('trainable' in this.config) config.trainable = this.trainable;
    return config;
  }

  /** Builds a Layer from a webcnn JSON layer config. */
  static fromConfig({ type, ...config }) {
    return new Layer(type, config);
  }
}

/** An input marker giving the shape of one example, as keras.Input. */
export function input({ shape }) {
  checkShape(shape, 'input shape');
  return { inputShape: shape };
}

function checkShape(shape, what) {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what} ${JSON.stringify(shape)} is invalid; pass [height, width, channels]`);
  }
}

// Splits (positional, options) arguments and rejects unknown options.
function options(layer, first, rest, positional, allowed) {
  const isOptions = typeof first === 'object' && first !== null && !Array.isArray(first);
  const opts = isOptions ? { ...first } : { ...rest, [positional]: first };
  for (const key of Object.keys(opts)) {
    if (![...allowed, 'inputShape', 'name'].includes(key)) {
      throw new Error(`${layer} has no option ${key}; it takes ${allowed.join(', ')} and inputShape`);
    }
  }
  if (opts.inputShape !== undefined) checkShape(opts.inputShape, `${layer} inputShape`);
  return opts;
}

function pair(value, name) {
  if (value === undefined || value === null) return undefined;
  const sizes = Array.isArray(value) ? value : [value, value];
  if (sizes.length !== 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${name} ${JSON.stringify(value)} is invalid; pass a positive integer or [height, width]`);
  }
  return sizes;
}

function activationName(value = 'linear', layer) {
  if (!ACTIVATIONS.includes(value)) {
    throw new Error(`${layer} activation ${JSON.stringify(value)} is not supported; use ${ACTIVATIONS.join(', ')}`);
  }
  return value;
}

function snake(name) {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// Drops undefined values, so webcnn's defaults apply.
function defined(config) {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
}

/** 2-D convolution: filters, kernelSize, strides, padding, dilationRate, activation, kernelInitializer, trainable. */
export function conv2d(filters, rest = {}) {
  const o = options('conv2d', filters, rest, 'filters', [
    'filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'activation', 'kernelInitializer', 'trainable',
  ]);
  return new Layer('conv2d', defined({
    filters: o.filters,
    kernel_size: pair(o.kernelSize, 'conv2d kernelSize'),
    strides: pair(o.strides, 'conv2d strides'),
    padding: o.padding,
    dilation: pair(o.dilationRate, 'conv2d dilationRate'),
    activation: activationName(o.activation, 'conv2d'),
    kernel_initializer: o.kernelInitializer && snake(o.kernelInitializer),
    trainable: o.trainable ?? true,
  }), o.inputShape);
}

function pooling(type, name) {
  return (poolSize = {}, rest = {}) => {
    const o = options(name, poolSize, rest, 'poolSize', ['poolSize', 'strides', 'padding']);
    return new Layer(type, defined({
      pool_size: pair(o.poolSize ?? 2, `${name} poolSize`),
      strides: pair(o.strides, `${name} strides`),
      padding: o.padding,
    }), o.inputShape);
  };
}

/** Max pooling: poolSize (default 2), strides (default poolSize), padding. */
export const maxPooling2d = pooling('max_pool2d', 'maxPooling2d');
/** Average pooling: poolSize (default 2), strides (default poolSize), padding. */
export const averagePooling2d = pooling('avg_pool2d', 'averagePooling2d');

/** Flattens [H, W, C] to [H * W * C] in NHWC order. */
export function flatten(opts = {}) {
  const o = options('flatten', opts, {}, '', []);
  return new Layer('flatten', {}, o.inputShape);
}

/** Fully connected layer: units, activation, kernelInitializer, trainable. */
export function dense(units, rest = {}) {
  const o = options('dense', units, rest, 'units', ['units', 'activation', 'kernelInitializer', 'trainable']);
  return new Layer('dense', defined({
    units: o.units,
    activation: activationName(o.activation, 'dense'),
    kernel_initializer: o.kernelInitializer && snake(o.kernelInitializer),
    trainable: o.trainable ?? true,
  }), o.inputShape);
}

/** Inverted dropout of `rate` (in [0, 1)), active only in training. */
export function dropout(rate, rest = {}) {
  const o = options('dropout', rate, rest, 'rate', ['rate']);
  return new Layer('dropout', { rate: o.rate });
}

/** A standalone activation: linear, relu, sigmoid, tanh or softmax. */
export function activation(name, rest = {}) {
  const o = options('activation', name, rest, 'activation', ['activation']);
  return new Layer('activation', { activation: activationName(o.activation, 'activation') });
}
