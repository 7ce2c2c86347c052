// The showcase page's script: defines the elements and, when training is done, hands the
// trained model to the classifier in place of the pre-trained one it loaded from its src.

import '../../js/src/elements.js';

const trainer = document.querySelector('webcnn-trainer');
const classifier = document.querySelector('webcnn-classifier');
trainer.addEventListener('done', () => {
  classifier.model = trainer.model;
});
