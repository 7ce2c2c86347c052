// Defines the custom elements <webcnn-trainer> and <webcnn-classifier>; importing this module
// (one script tag) is all a page needs.

import { WebcnnClassifier } from './elements/classifier.js';
import { WebcnnTrainer } from './elements/trainer.js';

if (!customElements.get('webcnn-trainer')) customElements.define('webcnn-trainer', WebcnnTrainer);
if (!customElements.get('webcnn-classifier')) customElements.define('webcnn-classifier', WebcnnClassifier);

export { WebcnnClassifier, WebcnnTrainer };
