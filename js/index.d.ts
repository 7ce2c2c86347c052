// Types of the webcnn npm package (src/index.js).

/** A typed array and its shape; every input and output of the API takes this form. */
export interface Tensor<T extends ArrayLike<number> = Float32Array> {
  data: T;
  shape: number[];
}

export type Activation = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
export type Padding = 'valid' | 'same';
export type Initializer = 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal';
export type Size = number | [number, number];

/** A layer of a sequential model; `trainable = false` freezes conv2d and dense layers. */
export class Layer {
  readonly type: string;
  trainable: boolean;
  toConfig(): Record<string, unknown>;
  static fromConfig(config: Record<string, unknown>): Layer;
}

interface InputOption {
  /** Shape of one example, [height, width, channels]; only on the first layer. */
  inputShape?: [number, number, number];
  name?: string;
}

export interface Conv2dOptions extends InputOption {
  filters?: number;
  kernelSize: Size;
  strides?: Size;
  padding?: Padding;
  dilationRate?: Size;
  activation?: Activation;
  kernelInitializer?: Initializer;
  trainable?: boolean;
}

export interface PoolingOptions extends InputOption {
  poolSize?: Size;
  strides?: Size;
  padding?: Padding;
}

export interface DenseOptions extends InputOption {
  units?: number;
  activation?: Activation;
  kernelInitializer?: Initializer;
  trainable?: boolean;
}

export namespace layers {
  function conv2d(options: Conv2dOptions & { filters: number }): Layer;
  function conv2d(filters: number, options: Conv2dOptions): Layer;
  function maxPooling2d(options?: PoolingOptions): Layer;
  function maxPooling2d(poolSize: Size, options?: PoolingOptions): Layer;
  function averagePooling2d(options?: PoolingOptions): Layer;
  function averagePooling2d(poolSize: Size, options?: PoolingOptions): Layer;
  function flatten(options?: InputOption): Layer;
  function dense(options: DenseOptions & { units: number }): Layer;
  function dense(units: number, options?: DenseOptions): Layer;
  function dropout(rate: number): Layer;
  function dropout(options: { rate: number }): Layer;
  function activation(name: Activation): Layer;
  function activation(options: { activation: Activation }): Layer;
}

/** An input marker giving the shape of one example, as keras.Input. */
export interface InputMarker {
  inputShape: [number, number, number];
}
export function input(options: { shape: [number, number, number] }): InputMarker;

export type Optimizer =
  | 'adam'
  | 'sgd'
  | { type: 'adam'; learningRate?: number; beta1?: number; beta2?: number; epsilon?: number }
  | { type: 'sgd'; learningRate?: number; momentum?: number };

export interface CompileArgs {
  optimizer?: Optimizer;
  loss: 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy';
  metrics?: Array<'accuracy' | 'acc'>;
}

export interface Logs {
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
}

export interface FitArgs {
  epochs?: number;
  batchSize?: number;
  validationSplit?: number;
  shuffle?: boolean;
  seed?: number;
  callbacks?: {
    /** Called once after each batch, in order, with the batch's index in its epoch (from 0)
     * and the mean loss and accuracy over the batch's examples. The worker runs a few batches
     * per call, so the calls for those batches come together after the last of them. */
    onBatchEnd?: (batch: number, logs: Logs) => void;
    onEpochEnd?: (epoch: number, logs: Logs) => void;
  };
}

export interface History {
  epoch: number[];
  history: { loss: number[]; accuracy: number[]; val_loss?: number[]; val_accuracy?: number[] };
}

export interface BackendInfo {
  backend: 'webgpu' | 'cpu';
  adapter: string;
  fallbackReason: string | null;
}

type Labels = Tensor<ArrayLike<number>> | ArrayLike<number>;

/** A stack of layers trained in a Web Worker on WebGPU, or on the CPU without it. */
export class Sequential {
  constructor(layers?: Array<Layer | InputMarker> | { layers: Array<Layer | InputMarker> });
  /** Builds a model from a webcnn JSON config ({input_shape, layers}). */
  static fromConfig(config: { input_shape: number[]; layers: Record<string, unknown>[] }): Sequential;
  /** Builds a built-in model: 'seed-cnn' (the Keras MNIST CNN) or 'lenet5', for 28x28x1. */
  static preset(name: 'seed-cnn' | 'lenet5'): Promise<Sequential>;
  readonly layers: Layer[];
  inputShape: [number, number, number] | null;
  add(layer: Layer | InputMarker): void;
  toConfig(): { input_shape: number[]; layers: Record<string, unknown>[] };
  backend(): Promise<BackendInfo>;
  /** Sets the optimizer, loss and metrics; the next fit starts with fresh optimizer state. */
  compile(args: CompileArgs): void;
  summary(print?: ((text: string) => void) | null): Promise<string>;
  /** Trains on x and y. A second fit goes on with the weights and the optimizer state (Adam's
   * moments and step count) of the first, as in Keras, unless compile() ran in between. */
  fit(x: Tensor<ArrayLike<number>>, y: Labels, args?: FitArgs): Promise<History>;
  evaluate(x: Tensor<ArrayLike<number>>, y: Labels): Promise<{ loss: number; accuracy: number }>;
  predict(x: Tensor<ArrayLike<number>>): Promise<Tensor>;
  toBytes(): Promise<Uint8Array>;
  /** Saves to 'indexeddb://NAME' or 'downloads://NAME'. */
  save(destination: string): Promise<void>;
  dispose(): void;
}

export function sequential(layers?: Array<Layer | InputMarker>): Sequential;

/** Loads 'indexeddb://NAME', a URL of a .safetensors file or of a tfjs-layers model.json, a
 * File or Blob, or bytes. */
export function loadModel(source: string | URL | Blob | ArrayBuffer | Uint8Array): Promise<Sequential>;

export function tensor<T extends ArrayLike<number>>(data: T, shape: number[]): Tensor<T>;
export function toCategorical(labels: Labels, classes: number): Tensor;

export namespace datasets {
  function loadIdx(
    imagesUrl: string,
    labelsUrl: string,
  ): Promise<{ x: Tensor; y: Tensor<Uint32Array>; classes: number }>;
  function shuffledIndices(n: number, seed?: number): number[];
  function take<T extends ArrayLike<number>>(
    data: { x: Tensor; y: Tensor<T> },
    indices: number[],
  ): { x: Tensor; y: Tensor<T> };
}
