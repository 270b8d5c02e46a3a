// The server's edge refinement for camera frames (humanmatting/refine.py, guided_upsample
// with a gray guide): the network's matte, upsampled with the frame as guide, so that it
// follows the frame's edges. The settings (working size, radius, eps, levels) come from
// camera.json, i.e. from refine.REFINEMENTS on the server.
//
// Float32 arithmetic as numpy's, box sums in double as OpenCV's; where the server looks up
// unsettled tiles, this looks up unsettled pixels (the two agree where the matte is settled).

import {horizontalRows, linearTable, resizeLinearFloat, resizePixels, rgbaToGray, roundHalfEven} from './preprocess.js';

const f32 = Math.fround;
const INVERSE_255 = f32(1 / 255);
// refine.SETTLED: matte values this close to 0 or 1 round to 0 or 255 in 8 bits.
const SETTLED = 0.5 / 255;

/** cv2.boxFilter(normalize=True, BORDER_REFLECT) of a float32 plane: (2r+1)^2 means, with
 * sums in double as OpenCV's for float32 input. */
export function boxFilter(source, width, height, radius) {
  return boxInto(source, width, height, radius, new Float64Array(width * height), new Float32Array(width * height));
}

const scratches = new Map();
/** A typed scratch array kept between frames (a camera's frames all have one size). */
function scratch(name, Type, length) {
  let buffer = scratches.get(name);
  if (!buffer || buffer.length !== length) {
    buffer = new Type(length);
    scratches.set(name, buffer);
  }
  return buffer;
}

function reflected(size, radius) {
  const reflect = (i) => (i < 0 ? -i - 1 : i >= size ? 2 * size - i - 1 : i);
  const first = new Int32Array(2 * radius + 1);
  const enter = new Int32Array(size);
  const leave = new Int32Array(size);
  for (let k = -radius; k <= radius; k++) first[k + radius] = reflect(k);
  for (let x = 0; x < size; x++) {
    enter[x] = reflect(x + radius + 1);
    leave[x] = reflect(x - radius);
  }
  return {first, enter, leave};
}

/** boxFilter into `out`, with `rows` (Float64Array) as scratch. */
function boxInto(source, width, height, radius, rows, out) {
  const size = 2 * radius + 1;
  const scale = 1 / (size * size);
  const xs = reflected(width, radius);
  const ys = reflected(height, radius);
  // Columns whose window lies inside the row need no reflected index (most of them).
  const inside0 = Math.min(width, radius);
  const inside1 = Math.max(inside0, width - radius - 1);
  for (let y = 0; y < height; y++) {
    const offset = y * width;
    let sum = 0;
    for (let k = 0; k < size; k++) sum += source[offset + xs.first[k]];
    let x = 0;
    for (; x < inside0; x++) {
      rows[offset + x] = sum;
      sum += source[offset + xs.enter[x]] - source[offset + xs.leave[x]];
    }
    for (; x < inside1; x++) {
      rows[offset + x] = sum;
      sum += source[offset + x + radius + 1] - source[offset + x - radius];
    }
    for (; x < width; x++) {
      rows[offset + x] = sum;
      sum += source[offset + xs.enter[x]] - source[offset + xs.leave[x]];
    }
  }
  const sums = scratch('column sums', Float64Array, width);
  sums.fill(0);
  for (let k = 0; k < size; k++) {
    const offset = ys.first[k] * width;
    for (let x = 0; x < width; x++) sums[x] += rows[offset + x];
  }
  for (let y = 0; y < height; y++) {
    const offset = y * width;
    const entering = ys.enter[y] * width;
    const leaving = ys.leave[y] * width;
    for (let x = 0; x < width; x++) {
      out[offset + x] = sums[x] * scale;
      sums[x] += rows[entering + x] - rows[leaving + x];
    }
  }
  return out;
}

/** refine._gray_coefficients: the window means of a and b, as two planes. */
export function grayCoefficients(guide, source, width, height, radius, eps) {
  const n = width * height;
  const rows = scratch('rows', Float64Array, n);
  const products = scratch('products', Float32Array, n);
  const meanI = boxInto(guide, width, height, radius, rows, scratch('mean I', Float32Array, n));
  const meanP = boxInto(source, width, height, radius, rows, scratch('mean p', Float32Array, n));
  for (let i = 0; i < n; i++) products[i] = guide[i] * source[i];
  const a = boxInto(products, width, height, radius, rows, scratch('a', Float32Array, n));
  for (let i = 0; i < n; i++) products[i] = guide[i] * guide[i];
  const variance = boxInto(products, width, height, radius, rows, scratch('variance', Float32Array, n));
  const b = scratch('b', Float32Array, n);
  const epsilon = f32(eps);
  for (let i = 0; i < n; i++) {
    const covariance = f32(a[i] - f32(meanI[i] * meanP[i]));
    const spread = f32(f32(variance[i] - f32(meanI[i] * meanI[i])) + epsilon);
    a[i] = f32(covariance / spread);
    b[i] = f32(meanP[i] - f32(a[i] * meanI[i]));
  }
  return [
    boxInto(a, width, height, radius, rows, new Float32Array(n)),
    boxInto(b, width, height, radius, rows, new Float32Array(n)),
  ];
}

function grayGuide(gray) {
  const out = scratch('guide', Float32Array, gray.length);
  for (let i = 0; i < gray.length; i++) out[i] = gray[i] * INVERSE_255;
  return out;
}

/** refine._levels: at or below low is background, at or above high person, linear between. */
function levels(matte, [low, high]) {
  if (low === 0 && high === 1) return matte;
  const lowF = f32(low);
  const scale = f32(1 / (high - low));
  for (let i = 0; i < matte.length; i++) {
    const value = f32(f32(matte[i] - lowF) * scale);
    matte[i] = value < 0 ? 0 : value > 1 ? 1 : value;
  }
  return matte;
}

/** Where the refinement works for a frame of width x height (refine.guided_upsample):
 * {workWidth, workHeight, radius, full}; full when that is the frame's own size. */
export function workingSize(networkWidth, networkHeight, width, height, settings) {
  if (settings.guide !== 'gray') throw new Error(`the page refines with a gray guide, not ${settings.guide}`);
  const networkLongSide = Math.max(networkWidth, networkHeight);
  const longSide = Math.max(width, height);
  const workLong = Math.min(longSide, Math.max(1, roundHalfEven(settings.work_scale * networkLongSide)));
  const scale = workLong / longSide;
  const workWidth = Math.max(1, roundHalfEven(width * scale));
  const workHeight = Math.max(1, roundHalfEven(height * scale));
  const radius = Math.max(1, roundHalfEven((settings.radius * workLong) / networkLongSide));
  return {workWidth, workHeight, radius, full: workWidth === width && workHeight === height};
}

/** The guide at the working size: the frame's gray shrunk to it, or `shrunk` ({width,
 * height, gray}, e.g. the network's gray input) when it has that size already. The server
 * shrinks the frame, then takes its gray; the gray shrunk differs from that by a grey level
 * at most, and costs a third (the matte differs by 1e-5 on average). */
export function workingGuide(fullGray, width, height, work, shrunk = null) {
  if (work.full) return fullGray;
  if (shrunk && shrunk.width === work.workWidth && shrunk.height === work.workHeight) return shrunk.gray;
  return resizePixels(fullGray, width, height, 1, work.workWidth, work.workHeight);
}

/** The refinement's first part, at the working size (the model's worker runs it): the
 * window means of a and b, and (unless full) the matte there and where it is unsettled.
 * New arrays, so that they can be transferred. */
export function coefficientsAtWork(probability, networkWidth, networkHeight, guideGray, work, settings) {
  const {workWidth, workHeight, radius} = work;
  const workPixels = workWidth * workHeight;
  const stretched = scratch('source', Float32Array, workPixels);
  resizeLinearFloat(probability, networkWidth, networkHeight, workWidth, workHeight, false, stretched);
  const source = levels(stretched, settings.levels);
  const guide = grayGuide(guideGray);
  const [a, b] = grayCoefficients(guide, source, workWidth, workHeight, radius, settings.eps);
  if (work.full) return {a, b};
  // As the server: the working-size result stretched to the frame where the matte is
  // settled (a is 0 there, and the frame adds nothing), a . I + b from the stretched a and b
  // where it is not (around unsettled working pixels, dilated by one).
  const atWork = new Float32Array(workPixels);
  const unsettled = scratch('unsettled', Uint8Array, workPixels);
  for (let i = 0; i < workPixels; i++) {
    const value = f32(f32(a[i] * guide[i]) + b[i]);
    atWork[i] = value < 0 ? 0 : value > 1 ? 1 : value;
    unsettled[i] = Math.abs(a[i]) > 1e-3 || (atWork[i] > SETTLED && atWork[i] < 1 - SETTLED) ? 1 : 0;
  }
  const {near, nearRows} = dilate(unsettled, workWidth, workHeight);
  return {a, b, atWork, near, nearRows};
}

/** The refinement's second part: alpha at the frame's size from coefficientsAtWork's
 * `parts` and the frame's gray. */
export function alphaAtFrame(parts, work, fullGray, width, height) {
  const {a, b, atWork, near, nearRows} = parts;
  const {workWidth, workHeight} = work;
  const alpha = new Float32Array(width * height);
  if (work.full) {
    for (let i = 0; i < alpha.length; i++) {
      const value = f32(f32(a[i] * f32(fullGray[i] * INVERSE_255)) + b[i]);
      alpha[i] = value < 0 ? 0 : value > 1 ? 1 : value;
    }
    return alpha;
  }
  const xs = linearTable(workWidth, width);
  const ys = linearTable(workHeight, height);
  // Where the matte is settled, resizeLinearFloat's arithmetic: each working row stretched
  // across once, then each frame row blended from two of them.
  const stretchedRow = horizontalRows(atWork, workWidth, xs);
  for (let y = 0; y < height; y++) {
    const row = ys.index[y];
    const y0 = row * workWidth;
    const y1 = (row + 1 < workHeight ? row + 1 : row) * workWidth;
    const wy = ys.weight[y];
    const wy0 = f32(1 - wy);
    const offset = y * width;
    const top = stretchedRow(row);
    const bottom = stretchedRow(row + 1 < workHeight ? row + 1 : row);
    for (let x = 0; x < width; x++) alpha[offset + x] = f32(f32(top[x] * wy0) + f32(bottom[x] * wy));
    if (!nearRows[row]) continue;
    for (let x = 0; x < width; x++) {
      const x0 = xs.index[x];
      if (!near[y0 + x0]) continue;
      const x1 = x0 + 1 < workWidth ? x0 + 1 : x0;
      const wx = xs.weight[x];
      const wx0 = f32(1 - wx);
      const a0 = f32(f32(a[y0 + x0] * wx0) + f32(a[y0 + x1] * wx));
      const a1 = f32(f32(a[y1 + x0] * wx0) + f32(a[y1 + x1] * wx));
      const b0 = f32(f32(b[y0 + x0] * wx0) + f32(b[y0 + x1] * wx));
      const b1 = f32(f32(b[y1 + x0] * wx0) + f32(b[y1 + x1] * wx));
      const slope = f32(f32(a0 * wy0) + f32(a1 * wy));
      const intercept = f32(f32(b0 * wy0) + f32(b1 * wy));
      const value = f32(f32(slope * f32(fullGray[offset + x] * INVERSE_255)) + intercept);
      alpha[offset + x] = value < 0 ? 0 : value > 1 ? 1 : value;
    }
  }
  return alpha;
}

/** The network's probability (networkWidth x networkHeight) -> alpha at the frame's size,
 * refined with the frame `rgba` as guide (settings: refine.RefineSettings as JSON): both
 * parts in turn. The frame's gray (cv2's RGB2GRAY of the whole frame) may be passed when
 * already computed, and `shrunk` as workingGuide takes it. */
export function guidedUpsample(probability, networkWidth, networkHeight, rgba, width, height, settings, gray = null, shrunk = null) {
  const work = workingSize(networkWidth, networkHeight, width, height, settings);
  const fullGray = gray || rgbaToGray(rgba, width * height);
  const guide = workingGuide(fullGray, width, height, work, shrunk);
  const parts = coefficientsAtWork(probability, networkWidth, networkHeight, guide, work, settings);
  return alphaAtFrame(parts, work, fullGray, width, height);
}

/** 3x3 dilation of a 0/1 map (cv2.dilate with a 3x3 kernel) as `near`, and `nearRows`:
 * 1 for each row with any 1 in it. */
function dilate(map, width, height) {
  const out = new Uint8Array(map.length);
  const nearRows = new Uint8Array(height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!map[y * width + x]) continue;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        nearRows[yy] = 1;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < width) out[yy * width + xx] = 1;
        }
      }
    }
  }
  return {near: out, nearRows};
}

/** refine.clean_alpha, in place on `alpha` (width x height, the refined matte): 1 on the
 * person (alpha >= 0.5) and 0 elsewhere, except in a band along the person's outline
 * where the alpha, its contrast raised, fades to those values; small holes in the person
 * filled. `clean`: refine.clean_settings() on the server, from camera.json. Bilinear where
 * the server samples tile by tile (the same values, cv2.resize's and warpAffine's). */
export function cleanAlpha(alpha, width, height, clean) {
  const reach = Math.max(clean.edge_band_min, clean.edge_band * Math.max(width, height)) / 2;
  const scale = Math.min(1, clean.edge_band_work / reach);
  const workWidth = Math.max(1, roundHalfEven(width * scale));
  const workHeight = Math.max(1, roundHalfEven(height * scale));
  const small = scale < 1 ? resizeLinearFloat(alpha, width, height, workWidth, workHeight, false) : alpha;
  const count = workWidth * workHeight;
  const person = new Float32Array(count);
  for (let i = 0; i < count; i++) person[i] = small[i] >= 0.5 ? 1 : 0;
  let fill = smallHoles(small, workWidth, workHeight, clean);
  if (fill) {
    for (let i = 0; i < count; i++) if (fill[i]) person[i] = 1;
    fill = dilate(fill, workWidth, workHeight).near;
  }
  // 1 - |2 m - 1|, m the mean of `person` in a window of reach pixels each side.
  const weight = boxFilter(person, workWidth, workHeight, Math.max(1, roundHalfEven(reach * scale)));
  for (let i = 0; i < count; i++) weight[i] = fill && fill[i] ? 0 : f32(1 - Math.abs(f32(f32(2 * weight[i]) - 1)));
  const contrast = f32(clean.edge_contrast);
  const offset = f32(0.5 - 0.5 * clean.edge_contrast);
  const settle = (i, w) => {
    const value = alpha[i];
    const hard = value >= 0.5 ? 1 : 0;
    if (w > 0) {
      let stretched = f32(f32(value * contrast) + offset);
      stretched = stretched < 0 ? 0 : stretched > 1 ? 1 : stretched;
      alpha[i] = f32(f32(f32(stretched - hard) * w) + hard);
    } else {
      alpha[i] = hard;
    }
  };
  if (scale === 1) {
    for (let i = 0; i < alpha.length; i++) settle(i, weight[i]);
  } else {
    // The weight stretched bilinearly (cv2.resize's positions), only around working pixels
    // where it is not 0; elsewhere the frame's pixels are just settled.
    const banded = new Uint8Array(count);
    for (let i = 0; i < count; i++) banded[i] = weight[i] > 0 ? 1 : 0;
    const {near, nearRows} = dilate(banded, workWidth, workHeight);
    const xs = linearTable(workWidth, width);
    const ys = linearTable(workHeight, height);
    for (let y = 0; y < height; y++) {
      const row = ys.index[y];
      const offsetRow = y * width;
      if (!nearRows[row]) {
        for (let x = 0; x < width; x++) alpha[offsetRow + x] = alpha[offsetRow + x] >= 0.5 ? 1 : 0;
        continue;
      }
      const y0 = row * workWidth;
      const y1 = (row + 1 < workHeight ? row + 1 : row) * workWidth;
      const wy = ys.weight[y];
      const wy0 = f32(1 - wy);
      for (let x = 0; x < width; x++) {
        const x0 = xs.index[x];
        if (!near[y0 + x0]) {
          alpha[offsetRow + x] = alpha[offsetRow + x] >= 0.5 ? 1 : 0;
          continue;
        }
        const x1 = x0 + 1 < workWidth ? x0 + 1 : x0;
        const wx = xs.weight[x];
        const wx0 = f32(1 - wx);
        const top = f32(f32(weight[y0 + x0] * wx0) + f32(weight[y0 + x1] * wx));
        const bottom = f32(f32(weight[y1 + x0] * wx0) + f32(weight[y1 + x1] * wx));
        settle(offsetRow + x, f32(f32(top * wy0) + f32(bottom * wy)));
      }
    }
  }
  if (fill) {
    // The filled holes at the frame's size: the nearest working pixel (pixel centres).
    const column = new Int32Array(width);
    for (let x = 0; x < width; x++) column[x] = Math.min(workWidth - 1, Math.max(0, Math.round((x + 0.5) * (workWidth / width) - 0.5)));
    for (let y = 0; y < height; y++) {
      const row = Math.min(workHeight - 1, Math.max(0, Math.round((y + 0.5) * (workHeight / height) - 0.5))) * workWidth;
      for (let x = 0; x < width; x++) if (fill[row + column[x]]) alpha[y * width + x] = 1;
    }
  }
  return alpha;
}

/** refine._holes: a 0/1 map (width x height) of the background components (4-connected)
 * that touch no border and hold at most max_hole of the frame, found at
 * hole_work_long_side; null when there are none. */
function smallHoles(small, width, height, clean) {
  const scale = Math.min(1, clean.hole_work_long_side / Math.max(width, height));
  const holeWidth = Math.max(1, roundHalfEven(width * scale));
  const holeHeight = Math.max(1, roundHalfEven(height * scale));
  const coarse = scale < 1 ? resizeLinearFloat(small, width, height, holeWidth, holeHeight, false) : small;
  const count = holeWidth * holeHeight;
  const maxArea = clean.max_hole * count;
  const seen = new Uint8Array(count);
  const holes = new Uint8Array(count);
  const stack = new Int32Array(count);
  const members = new Int32Array(count);
  let any = false;
  for (let start = 0; start < count; start++) {
    if (seen[start] || coarse[start] >= 0.5) continue;
    let size = 0;
    let top = 0;
    let border = false;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top];
      members[size++] = i;
      const x = i % holeWidth;
      const y = (i - x) / holeWidth;
      if (x === 0 || y === 0 || x === holeWidth - 1 || y === holeHeight - 1) border = true;
      for (let k = 0; k < 4; k++) {
        const j = k === 0 ? (x > 0 ? i - 1 : -1) : k === 1 ? (x < holeWidth - 1 ? i + 1 : -1) : k === 2 ? (y > 0 ? i - holeWidth : -1) : y < holeHeight - 1 ? i + holeWidth : -1;
        if (j >= 0 && !seen[j] && coarse[j] < 0.5) {
          seen[j] = 1;
          stack[top++] = j;
        }
      }
    }
    if (!border && size <= maxArea) {
      for (let k = 0; k < size; k++) holes[members[k]] = 1;
      any = true;
    }
  }
  if (!any) return null;
  if (scale === 1) return holes;
  // cv2.resize(INTER_NEAREST) to the working size: source index floor(d * source / size).
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = Math.min(holeHeight - 1, Math.floor((y * holeHeight) / height)) * holeWidth;
    for (let x = 0; x < width; x++) out[y * width + x] = holes[row + Math.min(holeWidth - 1, Math.floor((x * holeWidth) / width))];
  }
  return out;
}
