// The server's preprocessing (humanmatting/preprocess.py), replicated step by step so that
// the browser's matte equals the server's: OpenCV's RGB -> gray (ITU-R 601, fixed point),
// its INTER_AREA shrink (INTER_LINEAR when enlarging), raw 0..255 float input, the nearest
// aspect preset or the long side rounded to multiples of 32 (Python's round: half to even),
// and the bilinear resize of the probability back to the frame. Pure functions on typed
// arrays: tests/test_browser_preprocess.py runs them under Node against OpenCV.

const f32 = Math.fround;

/** Python's round(): the nearest integer, halves to the even one. */
export function roundHalfEven(value) {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** preprocess.round_to_multiple */
export function roundToMultiple(value, multiple) {
  return Math.max(multiple, roundHalfEven(value / multiple) * multiple);
}

/** preprocess.nearest_preset: presets are [ratio (width / height), height, width] in the
 * server's order; the first of equally near ones wins, as Python's min(). */
export function nearestPreset(height, width, presets) {
  const ratio = Math.log(width / height);
  let best = presets[0];
  for (const preset of presets) {
    if (Math.abs(Math.log(preset[0]) - ratio) < Math.abs(Math.log(best[0]) - ratio)) best = preset;
  }
  return [best[1], best[2]];
}

/** preprocess.model_input_size: [height, width] the network sees. */
export function modelInputSize(height, width, longSide, config) {
  if (longSide === null || longSide === undefined) return nearestPreset(height, width, config.presets);
  const scale = longSide / Math.max(height, width);
  return [
    roundToMultiple(height * scale, config.size_multiple),
    roundToMultiple(width * scale, config.size_multiple),
  ];
}

/** cv2.cvtColor(RGB2GRAY) on uint8, from RGBA: (9798 R + 19235 G + 3735 B + 2^14) >> 15,
 * OpenCV's fixed-point ITU-R 601 weights (equal to cv2 on every input, tested). */
export function rgbaToGray(rgba, pixels) {
  const gray = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 4) {
    gray[i] = (9798 * rgba[j] + 19235 * rgba[j + 1] + 3735 * rgba[j + 2] + 16384) >> 15;
  }
  return gray;
}

/** RGBA -> packed RGB (the night model's channels). */
export function rgbaToRgb(rgba, pixels) {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0, j = 0, k = 0; i < pixels; i++, j += 4, k += 3) {
    rgb[k] = rgba[j];
    rgb[k + 1] = rgba[j + 1];
    rgb[k + 2] = rgba[j + 2];
  }
  return rgb;
}

/** OpenCV's saturate_cast<uchar>(float): round half to even, clamp to 0..255. */
function saturateU8(value) {
  let rounded = Math.round(value); // halves up; OpenCV rounds them to even
  if (rounded - value === 0.5 && rounded % 2 !== 0) rounded -= 1;
  return rounded < 0 ? 0 : rounded > 255 ? 255 : rounded;
}

/** OpenCV's computeResizeAreaTab: (destination, source, weight) entries along one axis, as
 * typed arrays; cached, since a camera's frames all have one size. */
const areaTables = new Map();
function areaTable(sourceSize, destinationSize, scale) {
  const key = `${sourceSize}:${destinationSize}`;
  if (areaTables.has(key)) return areaTables.get(key);
  const entries = [];
  for (let dx = 0; dx < destinationSize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, sourceSize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, sourceSize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) entries.push([dx, sx1 - 1, f32((sx1 - fsx1) / cellWidth)]);
    for (let sx = sx1; sx < sx2; sx++) entries.push([dx, sx, f32(1.0 / cellWidth)]);
    if (fsx2 - sx2 > 1e-3) {
      entries.push([dx, sx2, f32(Math.min(Math.min(fsx2 - sx2, 1.0), cellWidth) / cellWidth)]);
    }
  }
  // Entries come in order of destination: those of d are starts[d] .. starts[d + 1] - 1.
  const starts = new Int32Array(destinationSize + 1);
  for (const [destination] of entries) starts[destination + 1] += 1;
  for (let d = 0; d < destinationSize; d++) starts[d + 1] += starts[d];
  const table = {
    length: entries.length,
    starts,
    destination: Int32Array.from(entries, (entry) => entry[0]),
    source: Int32Array.from(entries, (entry) => entry[1]),
    weight: Float32Array.from(entries, (entry) => entry[2]),
  };
  if (areaTables.size > 16) areaTables.clear();
  areaTables.set(key, table);
  return table;
}

/** cv2.resize(INTER_AREA) of interleaved uint8 pixels when shrinking both sides: the
 * integer-scale fast path (2x2: (sum + 2) >> 2) or the weighted float32 path. */
export function resizeArea(source, width, height, channels, outWidth, outHeight) {
  const scaleX = width / outWidth;
  const scaleY = height / outHeight;
  if (scaleX === Math.trunc(scaleX) && scaleY === Math.trunc(scaleY)) {
    return resizeAreaInteger(source, width, channels, outWidth, outHeight, scaleX, scaleY);
  }
  const xs = areaTable(width, outWidth, scaleX);
  const ys = areaTable(height, outHeight, scaleY);
  return resizeAreaWeighted(source, width, channels, outWidth, outHeight, xs, ys);
}

function resizeAreaInteger(source, width, channels, outWidth, outHeight, scaleX, scaleY) {
  const out = new Uint8Array(outWidth * outHeight * channels);
  const area = scaleX * scaleY;
  const inverse = f32(1 / area);
  const rowStride = width * channels;
  for (let dy = 0; dy < outHeight; dy++) {
    for (let dx = 0; dx < outWidth; dx++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let ky = 0; ky < scaleY; ky++) {
          const row = (dy * scaleY + ky) * rowStride + dx * scaleX * channels + c;
          for (let kx = 0; kx < scaleX; kx++) sum += source[row + kx * channels];
        }
        out[(dy * outWidth + dx) * channels + c] =
          area === 4 ? (sum + 2) >> 2 : saturateU8(f32(sum * inverse));
      }
    }
  }
  return out;
}

function accumulateRow(source, row, channels, xs, buffer) {
  const count = xs.length;
  const destination = xs.destination;
  const from = xs.source;
  const weight = xs.weight;
  if (channels === 1) {
    // Each destination's sum in a local (the same float32 roundings, without a store and
    // load per entry).
    const starts = xs.starts;
    for (let d = 0, end = buffer.length; d < end; d++) {
      let sum = 0;
      for (let k = starts[d], stop = starts[d + 1]; k < stop; k++) {
        sum = f32(sum + f32(source[row + from[k]] * weight[k]));
      }
      buffer[d] = sum;
    }
    return;
  }
  buffer.fill(0);
  for (let k = 0; k < count; k++) {
    const alpha = weight[k];
    const to = destination[k] * channels;
    const at = row + from[k] * channels;
    for (let c = 0; c < channels; c++) buffer[to + c] = f32(buffer[to + c] + f32(source[at + c] * alpha));
  }
}

function storeRow(out, offset, sum) {
  for (let i = 0; i < sum.length; i++) out[offset + i] = saturateU8(sum[i]);
}

function resizeAreaWeighted(source, width, channels, outWidth, outHeight, xs, ys) {
  const out = new Uint8Array(outWidth * outHeight * channels);
  const rowWidth = outWidth * channels;
  const buffer = new Float32Array(rowWidth);
  const sum = new Float32Array(rowWidth);
  let previousY = ys.destination[0];
  for (let j = 0; j < ys.length; j++) {
    const dy = ys.destination[j];
    const beta = ys.weight[j];
    accumulateRow(source, ys.source[j] * width * channels, channels, xs, buffer);
    if (dy !== previousY) {
      storeRow(out, previousY * rowWidth, sum);
      for (let i = 0; i < rowWidth; i++) sum[i] = f32(beta * buffer[i]);
      previousY = dy;
    } else {
      for (let i = 0; i < rowWidth; i++) sum[i] = f32(sum[i] + f32(beta * buffer[i]));
    }
  }
  storeRow(out, previousY * rowWidth, sum);
  return out;
}

/** Bilinear source positions and weights along one axis, as cv2.resize(INTER_LINEAR). */
export function linearTable(sourceSize, destinationSize) {
  const scale = sourceSize / destinationSize;
  const index = new Int32Array(destinationSize);
  const weight = new Float32Array(destinationSize);
  for (let d = 0; d < destinationSize; d++) {
    let position = f32((d + 0.5) * scale - 0.5);
    let s = Math.floor(position);
    position = f32(position - s);
    if (s < 0) {
      s = 0;
      position = 0;
    }
    if (s >= sourceSize - 1) {
      s = sourceSize - 1;
      position = 0;
    }
    index[d] = s;
    weight[d] = position;
  }
  return {index, weight};
}

/** Rows of the float32 plane `source` (width wide) resized horizontally as
 * cv2.resize(INTER_LINEAR) does (positions and weights `xs`, linearTable's), each computed
 * once: a function of the source row, keeping a ring of two, keyed by the row. */
export function horizontalRows(source, width, xs) {
  const outWidth = xs.index.length;
  const rows = [new Float32Array(outWidth), new Float32Array(outWidth)];
  const keys = [-1, -1];
  return (y) => {
    const slot = y & 1;
    if (keys[slot] === y) return rows[slot];
    const row = rows[slot];
    const offset = y * width;
    for (let dx = 0; dx < outWidth; dx++) {
      const s = xs.index[dx];
      const w = xs.weight[dx];
      const next = s + 1 < width ? s + 1 : s;
      row[dx] = f32(f32(source[offset + s] * f32(1 - w)) + f32(source[offset + next] * w));
    }
    keys[slot] = y;
    return row;
  };
}

/** cv2.resize(INTER_LINEAR) of one float32 plane (the probability to the frame's size),
 * clipped to 0..1 as preprocess.alpha_to_size does (unless `clip` is false); into `out`
 * when given (a Float32Array of outWidth * outHeight), else a new array. */
export function resizeLinearFloat(source, width, height, outWidth, outHeight, clip = true, out = null) {
  const xs = linearTable(width, outWidth);
  const ys = linearTable(height, outHeight);
  out = out || new Float32Array(outWidth * outHeight);
  const horizontal = horizontalRows(source, width, xs);
  for (let dy = 0; dy < outHeight; dy++) {
    const s = ys.index[dy];
    const w = ys.weight[dy];
    const w0 = f32(1 - w);
    const row0 = horizontal(s);
    const row1 = horizontal(s + 1 < height ? s + 1 : s);
    const offset = dy * outWidth;
    for (let dx = 0; dx < outWidth; dx++) {
      const value = f32(f32(row0[dx] * w0) + f32(row1[dx] * w));
      out[offset + dx] = clip ? (value < 0 ? 0 : value > 1 ? 1 : value) : value;
    }
  }
  return out;
}

/** Bilinear resize of interleaved uint8 pixels (enlarging: rare for a camera frame). Float
 * arithmetic, where OpenCV uses 11-bit fixed point: may differ from it by one grey level. */
export function resizeLinearU8(source, width, height, channels, outWidth, outHeight) {
  const xs = linearTable(width, outWidth);
  const ys = linearTable(height, outHeight);
  const out = new Uint8Array(outWidth * outHeight * channels);
  for (let dy = 0; dy < outHeight; dy++) {
    const y0 = ys.index[dy];
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = ys.weight[dy];
    for (let dx = 0; dx < outWidth; dx++) {
      const x0 = xs.index[dx];
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = xs.weight[dx];
      for (let c = 0; c < channels; c++) {
        const at = (y, x) => source[(y * width + x) * channels + c];
        const top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        out[(dy * outWidth + dx) * channels + c] = saturateU8(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

/** preprocess.resize: INTER_AREA when the area shrinks, else INTER_LINEAR. */
export function resizePixels(source, width, height, channels, outWidth, outHeight) {
  if (width === outWidth && height === outHeight) return source;
  if (outWidth * outHeight < width * height && outWidth <= width && outHeight <= height) {
    return resizeArea(source, width, height, channels, outWidth, outHeight);
  }
  return resizeLinearU8(source, width, height, channels, outWidth, outHeight);
}

/** The frame at the network's size (H, W, C) in uint8, as preprocess.prepare_input resizes
 * it (`gray`: the frame's rgbaToGray, when already computed). */
export function shrinkForNetwork(rgba, width, height, channels, size, gray = null) {
  const [outHeight, outWidth] = size;
  const pixels = width * height;
  const planar = channels === 1 ? gray || rgbaToGray(rgba, pixels) : rgbaToRgb(rgba, pixels);
  return resizePixels(planar, width, height, channels, outWidth, outHeight);
}

/** preprocess.prepare_input: RGBA frame -> (H, W, C) float32 in raw 0..255. */
export function prepareInput(rgba, width, height, channels, size, gray = null) {
  return Float32Array.from(shrinkForNetwork(rgba, width, height, channels, size, gray));
}

/** cv2.cvtColor(RGB2GRAY) of packed uint8 RGB (rgbaToGray's weights). */
export function rgbToGray(rgb, pixels) {
  const gray = new Uint8Array(pixels);
  for (let i = 0, j = 0; i < pixels; i++, j += 3) {
    gray[i] = (9798 * rgb[j] + 19235 * rgb[j + 1] + 3735 * rgb[j + 2] + 16384) >> 15;
  }
  return gray;
}

/** video.AlphaSmoother: exponential average of the matte; a new size starts over. */
export class Smoother {
  constructor(weight) {
    this.weight = weight;
    this.state = null;
  }

  reset() {
    this.state = null;
  }

  apply(alpha) {
    if (this.state === null || this.state.length !== alpha.length) {
      this.state = Float32Array.from(alpha);
    } else {
      for (let i = 0; i < alpha.length; i++) {
        this.state[i] = f32(this.state[i] + f32(this.weight * f32(alpha[i] - this.state[i])));
      }
    }
    return this.state;
  }
}
