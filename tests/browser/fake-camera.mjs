// Fake-camera clips for the browser tests: decodes a photo (PNG here, JPEG in the browser) and
// writes a Y4M clip (I420) of it moving a little between frames, for Chromium's
// --use-file-for-fake-video-capture.

import { readFileSync, writeFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

const PNG_SIGNATURE = '89504e470d0a1a0a';

/**
 * Decodes an 8-bit, non-interlaced RGB or RGBA PNG file into {width, height, rgb}, with `rgb`
 * holding 3 bytes a pixel, row by row.
 * @param {string} path
 */
export function readPng(path) {
  const file = readFileSync(path);
  if (file.subarray(0, 8).toString('hex') !== PNG_SIGNATURE) throw new Error(`${path} is not a PNG file`);
  let header = null;
  const data = [];
  for (let offset = 8; offset < file.length; ) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], color: body[9], interlace: body[12] };
    if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const channels = { 2: 3, 6: 4 }[header?.color];
  if (!channels || header.depth !== 8 || header.interlace !== 0) {
    throw new Error(`${path}: only 8-bit non-interlaced RGB or RGBA PNG files are supported`);
  }
  const pixels = unfilter(inflateSync(Buffer.concat(data)), header.width, header.height, channels);
  const rgb = new Uint8Array(header.width * header.height * 3);
  for (let i = 0; i < header.width * header.height; i += 1) {
    rgb.set(pixels.subarray(i * channels, i * channels + 3), i * 3);
  }
  return { width: header.width, height: header.height, rgb };
}

// Undoes the PNG row filters (none, sub, up, average, Paeth).
function unfilter(raw, width, height, channels) {
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let row = 0; row < height; row += 1) {
    const filter = raw[row * (stride + 1)];
    const line = raw.subarray(row * (stride + 1) + 1, (row + 1) * (stride + 1));
    for (let i = 0; i < stride; i += 1) {
      const left = i >= channels ? out[row * stride + i - channels] : 0;
      const up = row > 0 ? out[(row - 1) * stride + i] : 0;
      const upLeft = row > 0 && i >= channels ? out[(row - 1) * stride + i - channels] : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      out[row * stride + i] = (line[i] + predictor) & 0xff;
    }
  }
  return out;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/**
 * Decodes the `region` ({x, y, width, height} in pixels) of a JPEG or PNG file with the
 * browser behind `page` (a Playwright page) into {width, height, rgb} as `readPng` returns.
 * @param {string} path
 */
export async function decodeRegion(page, path, region) {
  const base64 = readFileSync(path).toString('base64');
  const type = path.endsWith('.png') ? 'image/png' : 'image/jpeg';
  const rgb = await page.evaluate(async ({ base64, type, region }) => {
    const blob = await (await fetch(`data:${type};base64,${base64}`)).blob();
    const bitmap = await createImageBitmap(blob);
    const { x, y, width, height } = region;
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, x, y, width, height, 0, 0, width, height);
    const rgba = context.getImageData(0, 0, width, height).data;
    let text = '';
    for (let i = 0; i < rgba.length; i += 4) text += String.fromCharCode(rgba[i], rgba[i + 1], rgba[i + 2]);
    return btoa(text);
  }, { base64, type, region });
  return { width: region.width, height: region.height, rgb: new Uint8Array(Buffer.from(rgb, 'base64')) };
}

/**
 * Draws `image` scaled by `scale` with its top-left corner at (x, y) on a grey `width`x`height`
 * frame, sampling bilinearly. Returns the frame's RGB bytes.
 */
export function place(image, { width, height, scale, x, y }) {
  const frame = new Uint8Array(width * height * 3).fill(128);
  const at = (px, py, c) => image.rgb[(py * image.width + px) * 3 + c];
  for (let row = 0; row < height; row += 1) {
    const sy = (row + 0.5 - y) / scale - 0.5;
    if (sy < 0 || sy > image.height - 1) continue;
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, image.height - 1);
    for (let col = 0; col < width; col += 1) {
      const sx = (col + 0.5 - x) / scale - 0.5;
      if (sx < 0 || sx > image.width - 1) continue;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, image.width - 1);
      for (let c = 0; c < 3; c += 1) {
        const top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * (sx - x0);
        const bottom = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * (sx - x0);
        frame[(row * width + col) * 3 + c] = Math.round(top + (bottom - top) * (sy - y0));
      }
    }
  }
  return frame;
}

/**
 * Converts RGB frames to I420 (BT.601, limited range) and writes them as a Y4M clip.
 * @param {string} path
 * @param {Uint8Array[]} frames RGB bytes, `width * height * 3` each
 */
export function writeY4m(path, frames, { width, height, fps }) {
  const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`)];
  for (const rgb of frames) {
    parts.push(Buffer.from('FRAME\n'), Buffer.from(toI420(rgb, width, height)));
  }
  writeFileSync(path, Buffer.concat(parts));
}

function toI420(rgb, width, height) {
  const luma = width * height;
  const chroma = (width / 2) * (height / 2);
  const out = new Uint8Array(luma + 2 * chroma);
  for (let i = 0; i < luma; i += 1) {
    const [r, g, b] = [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]];
    out[i] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  }
  for (let row = 0; row < height / 2; row += 1) {
    for (let col = 0; col < width / 2; col += 1) {
      let [r, g, b] = [0, 0, 0];
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
        const i = ((2 * row + dy) * width + 2 * col + dx) * 3;
        r += rgb[i] / 4;
        g += rgb[i + 1] / 4;
        b += rgb[i + 2] / 4;
      }
      const index = row * (width / 2) + col;
      out[luma + index] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      out[luma + chroma + index] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return out;
}
