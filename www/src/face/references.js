// Reference photos of strangers: five group photos from the demo of the npm package
// @vladmandic/face-api (MIT licence), which setup installs to convert the face detector. Their
// faces train the recogniser's "unknown" class, so that a face unlike every enrolled person
// is called unknown rather than the nearest one. The sixth demo photo stays out: the browser
// test takes its strangers from it.

import sample1 from '../../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample1.jpg?url';
import sample2 from '../../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample2.jpg?url';
import sample3 from '../../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample3.jpg?url';
import sample4 from '../../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample4.jpg?url';
import sample5 from '../../../scripts/face-detector/node_modules/@vladmandic/face-api/demo/sample5.jpg?url';

/** URLs of the reference photos, served from the page's own origin. */
export const REFERENCE_PHOTOS = [sample1, sample2, sample3, sample4, sample5];
