// Types of the custom elements (src/elements.js), which importing 'webcnn/elements' defines.

import type { History, Sequential } from './index.js';

/** <webcnn-trainer>: trains a preset on an IDX dataset; fires epochend, done and error. */
export class WebcnnTrainer extends HTMLElement {
  /** The trained model, set when training is done. */
  model: Sequential | null;
  /** Loads the dataset, trains and evaluates; resolves when done. */
  train(): Promise<void>;
}

/**
 * <webcnn-classifier>: classifies a drawing or webcam frames; fires load, prediction, error.
 * The draw pad resamples the drawing to the model's input height and width, with the grey value
 * in every channel, and fires error for a model whose input is not [height, width, 1 or 3].
 */
export class WebcnnClassifier extends HTMLElement {
  /** The model that classifies; set it to use a Sequential instead of the src attribute. */
  model: Sequential | null;
  /** True while a prediction runs. */
  readonly busy: boolean;
  /**
   * Classifies one image of the model's input shape (height x width x channels, values in
   * [0, 1]), shows the top-k classes and fires prediction. An image that arrives while a
   * prediction runs waits, and only the latest waiting one is classified next.
   */
  classify(pixels: Float32Array): Promise<void>;
}

/** Detail of the trainer's done event. */
export interface TrainerDone {
  history: History;
  loss: number;
  accuracy: number;
}

/** Detail of the classifier's prediction event. */
export interface Prediction {
  top: Array<{ index: number; label: string; probability: number }>;
}

declare global {
  interface HTMLElementTagNameMap {
    'webcnn-trainer': WebcnnTrainer;
    'webcnn-classifier': WebcnnClassifier;
  }
}
