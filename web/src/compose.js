// The server's compose (humanmatting/compose.py, serving.render) on canvases: the person
// in front of a blurred frame, a colour or a picture, or the matte itself, from the matte
// at the frame's size; the blend is alpha * frame + (1 - alpha) * background.

function canvas(width, height) {
  const element = document.createElement('canvas');
  element.width = width;
  element.height = height;
  return element;
}

function resized(element, width, height) {
  if (element.width !== width || element.height !== height) {
    element.width = width;
    element.height = height;
  }
  return element;
}

/** compose._cover: scale and centre-crop a picture to fill width x height. */
function drawCover(context, picture, width, height) {
  const scale = Math.max(height / picture.naturalHeight, width / picture.naturalWidth);
  const drawnWidth = picture.naturalWidth * scale;
  const drawnHeight = picture.naturalHeight * scale;
  context.drawImage(picture, (width - drawnWidth) / 2, (height - drawnHeight) / 2, drawnWidth, drawnHeight);
}

export class Compositor {
  constructor(output) {
    this.output = output;
    this.mask = canvas(1, 1);
    this.person = canvas(1, 1);
    this.small = canvas(1, 1);
    this.blurred = canvas(1, 1);
    this.maskPixels = null;
  }

  /** A canvas holding a frame's RGBA pixels (the one composed, while the camera's canvas
   * already holds the next). */
  frameCanvas(pixels, width, height) {
    const picture = resized(this.picture || (this.picture = canvas(1, 1)), width, height);
    picture.getContext('2d').putImageData(new ImageData(pixels, width, height), 0, 0);
    return picture;
  }

  /** The matte (values 0..1, width x height) as the alpha of a white picture. */
  drawMask(alpha, width, height, threshold) {
    resized(this.mask, width, height);
    const context = this.mask.getContext('2d');
    if (!this.maskPixels || this.maskPixels.width !== width || this.maskPixels.height !== height) {
      this.maskPixels = context.createImageData(width, height);
      this.maskPixels.data.fill(255);
    }
    const data = this.maskPixels.data;
    for (let i = 0, j = 3; i < alpha.length; i++, j += 4) {
      const value = threshold === null ? alpha[i] : alpha[i] >= threshold ? 1 : 0;
      data[j] = value * 255 + 0.5;
    }
    context.putImageData(this.maskPixels, 0, 0);
  }

  /** compose.gaussian_blur: shrink by sigma / 3, blur what remains, enlarge. The edges are
   * repeated outwards first: a canvas blur fades to transparent past them. */
  drawBlurred(context, frame, width, height, sigma) {
    const factor = Math.max(1, Math.floor(sigma / 3));
    const smallWidth = Math.max(1, Math.round(width / factor));
    const smallHeight = Math.max(1, Math.round(height / factor));
    const remaining = factor < 2 ? sigma : Math.sqrt(Math.max(sigma ** 2 - (factor ** 2 - 1) / 12 - factor ** 2 / 6, 1));
    const radius = remaining / factor;
    const margin = Math.ceil(3 * radius) + 1;
    const padded = resized(this.small, smallWidth + 2 * margin, smallHeight + 2 * margin);
    const small = padded.getContext('2d');
    small.imageSmoothingEnabled = true;
    small.drawImage(frame, margin, margin, smallWidth, smallHeight);
    const right = margin + smallWidth;
    const bottom = margin + smallHeight;
    // Edges and corners: the outermost row or column of the shrunk frame, stretched.
    const strips = [
      [margin, margin, smallWidth, 1, margin, 0, smallWidth, margin],
      [margin, bottom - 1, smallWidth, 1, margin, bottom, smallWidth, margin],
      [margin, margin, 1, smallHeight, 0, margin, margin, smallHeight],
      [right - 1, margin, 1, smallHeight, right, margin, margin, smallHeight],
      [margin, margin, 1, 1, 0, 0, margin, margin],
      [right - 1, margin, 1, 1, right, 0, margin, margin],
      [margin, bottom - 1, 1, 1, 0, bottom, margin, margin],
      [right - 1, bottom - 1, 1, 1, right, bottom, margin, margin],
    ];
    for (const strip of strips) small.drawImage(padded, ...strip);
    const blurred = resized(this.blurred, padded.width, padded.height).getContext('2d');
    blurred.filter = `blur(${radius}px)`;
    blurred.clearRect(0, 0, padded.width, padded.height);
    blurred.drawImage(padded, 0, 0);
    blurred.filter = 'none';
    context.imageSmoothingEnabled = true;
    context.drawImage(this.blurred, margin, margin, smallWidth, smallHeight, 0, 0, width, height);
  }

  /** Draw `frame` (a canvas) with matte `alpha` (the frame's size) in front of the
   * background that `settings` chooses; returns a problem to show, or null. */
  render(frame, alpha, settings, backgroundPicture) {
    const {width, height} = frame;
    resized(this.output, width, height);
    const context = this.output.getContext('2d');
    this.drawMask(alpha, width, height, settings.threshold);
    let mode = settings.background;
    if (mode === 'transparent') mode = 'matte'; // camera frames are shown without alpha
    if (mode === 'matte') {
      context.fillStyle = '#000';
      context.fillRect(0, 0, width, height);
      context.drawImage(this.mask, 0, 0);
      return null;
    }
    let problem = null;
    if (mode === 'blur') {
      if (settings.blur > 0) this.drawBlurred(context, frame, width, height, settings.blur);
      else context.drawImage(frame, 0, 0);
    } else if (mode === 'image' && backgroundPicture) {
      drawCover(context, backgroundPicture, width, height);
    } else {
      if (mode === 'image') problem = 'choose a background picture first (or another background)';
      context.fillStyle = settings.color || '#00b140';
      context.fillRect(0, 0, width, height);
    }
    const person = resized(this.person, width, height).getContext('2d');
    person.globalCompositeOperation = 'copy';
    person.drawImage(frame, 0, 0);
    person.globalCompositeOperation = 'destination-in';
    person.drawImage(this.mask, 0, 0);
    person.globalCompositeOperation = 'source-over';
    context.drawImage(this.person, 0, 0);
    return problem;
  }
}
