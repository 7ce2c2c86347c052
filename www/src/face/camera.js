// Webcam access for the face page: opens the camera with a message for each way it can fail,
// and draws its frames mirrored, only once the video has decoded a frame that is not blank.

/** An error whose message explains to the user why the camera is unavailable and what to do. */
export class CameraError extends Error {}

// Largest luma range (0 to 255) of a frame still counted as blank: a camera that is starting
// sends black or uniform frames first.
const BLANK_RANGE = 8;
// Pixels sampled by the blank check (every n-th pixel).
const BLANK_STRIDE = 97;

/**
 * Opens the front camera and plays it in `video`. Throws a CameraError with a user-facing
 * message when the browser has no camera access, the user denies it or there is no camera.
 * @param {HTMLVideoElement} video
 * @returns {Promise<MediaStream>}
 */
export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraError(
      'This browser gives the page no camera access (it needs https or localhost). Pick photos below instead.',
    );
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: 'user' },
      audio: false,
    });
  } catch (error) {
    throw new CameraError(cameraMessage(error));
  }
  video.srcObject = stream;
  await video.play();
  return stream;
}

function cameraMessage(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Camera access was denied. Allow the camera for this site in the browser settings and reload, or pick photos below.';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'No camera was found. Connect one and reload, or pick photos below.';
    case 'NotReadableError':
      return 'The camera failed to start: another program may be using it. Close that program and reload, or pick photos below.';
    default:
      return `The camera failed to start (${error?.name}: ${error?.message}). Pick photos below instead.`;
  }
}

/**
 * Stops every track of a camera stream.
 * @param {MediaStream | null} stream
 */
export function closeCamera(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/**
 * Draws the video's current frame into `canvas`, mirrored left to right as a mirror shows it,
 * resizing the canvas to the video. Returns false, drawing nothing, while the video has not
 * decoded a frame yet (its size is still 0x0).
 * @param {HTMLVideoElement} video
 * @param {CanvasRenderingContext2D} context
 */
export function drawMirrored(video, context) {
  const { videoWidth: width, videoHeight: height } = video;
  if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || width === 0 || height === 0) {
    return false;
  }
  const canvas = context.canvas;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  context.setTransform(-1, 0, 0, 1, width, 0);
  context.drawImage(video, 0, 0, width, height);
  context.setTransform(1, 0, 0, 1, 0, 0);
  return true;
}

/**
 * Checks whether a frame is blank: its sampled luma spans less than BLANK_RANGE.
 * @param {ImageData} image
 */
export function isBlank(image) {
  const data = image.data;
  let low = 255;
  let high = 0;
  for (let i = 0; i < data.length; i += 4 * BLANK_STRIDE) {
    const luma = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    low = Math.min(low, luma);
    high = Math.max(high, luma);
  }
  return high - low < BLANK_RANGE;
}
