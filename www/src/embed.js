// The showcase page's script: defines the elements and hands the trained model to the
// classifier when training is done.

import '../../js/src/elements.js';

const trainer = document.querySelector('webcnn-trainer');
const classifier = document.querySelector('webcnn-classifier');
trainer.addEventListener('done', () => {
  classifier.model = trainer.model;
});
