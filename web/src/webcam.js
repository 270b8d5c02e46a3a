// The Webcam tab's in-browser matting: the camera, the model and the compositing all run in
// this page, so no frame leaves the device and each visitor's device does its own work.
//
// The page gets from the app only what every visitor shares: this script and its worker,
// LiteRT.js's WebAssembly, camera.json (the server's preprocessing facts) and the model
// files the server itself runs. Settings come from the tab's own controls through js-only
// Gradio events (gradio_app/tabs/browser_camera.py): changing one sends nothing to the server either. Where this
// cannot run (no WebAssembly SIMD, a model that fails to load), the tab says so in one
// line and switches to the server's stream.
//
// Per frame, as serving.StreamSession: the frame (mirrored as Gradio mirrors the frames it
// sends) -> preprocess.js -> the model (worker.js) -> refine.js (the matte at the frame's
// size, with the frame as guide) -> the exponential average -> compose.js. The model of
// frame N runs in the worker while this thread refines and composes frame N - 1 and grabs
// frame N + 1, which the worker starts on as soon as it is done with N.

import {Compositor} from './compose.js';
import {Smoother, modelInputSize, resizeLinearFloat, rgbToGray, rgbaToGray, shrinkForNetwork} from './preprocess.js';
import {alphaAtFrame, cleanAlpha, coefficientsAtWork, workingGuide, workingSize} from './refine.js';

// Built as a classic script (Gradio's gr.HTML(head=...) adds a plain <script src>): where
// it was loaded from is document.currentScript, read while it first runs.
const SCRIPT = document.currentScript && document.currentScript.src;
const HERE = new URL('./', SCRIPT || new URL('humanmatting/web/webcam.js', document.baseURI));
const CONFIG_URL = new URL('../camera.json', HERE);
// The smallest module with a SIMD instruction (wasm-feature-detect's probe): LiteRT.js's
// WebAssembly is built with SIMD (its "compat" build too) and cannot load without it.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const RATE_WINDOW = 30; // frames in the frames/s readout, as the server's StreamSession
// Model workers: two where the device has the cores (measured on 2 cores too: the page's
// own work then fills what the model leaves idle; BENCHMARKS.md, Webcam in the browser).
const MODEL_WORKERS = (navigator.hardwareConcurrency || 1) >= 2 ? 2 : 1;
const BALANCE_WEIGHT = 0.1; // of each new frame in the threads' average work per frame
// The tab's note when the visitor chose the server's stream (this script's notes are about
// matting in this browser, and would be false then).
const SERVER_NOTE = 'The camera is matted on the server: its frames are sent to this server and come back matted.';
const READY = 'Ready: press Start the camera.';

function mean(values) {
  return values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : null;
}

function median(values) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function oneLine(error) {
  const text = String(error && error.message ? error.message : error);
  return text.split('\n')[0].slice(0, 200);
}

function base64(bytes) {
  let text = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(text);
}

/** Why this browser cannot run the models here, or null when it can. */
export function unsupportedReason() {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate) return 'this browser has no WebAssembly';
  if (!WebAssembly.validate(SIMD_PROBE)) return 'this browser has no WebAssembly SIMD';
  if (typeof Worker !== 'function') return 'this browser has no Web Workers';
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return 'this page cannot use the camera here (it needs https or localhost)';
  }
  return null;
}

/** worker.js, called like a function: each request answered by its own message. */
class ModelWorker {
  constructor(url) {
    this.worker = new Worker(url);
    this.pending = new Map();
    this.next = 0;
    this.worker.onmessage = ({data}) => {
      const request = this.pending.get(data.id);
      this.pending.delete(data.id);
      if (!request) return;
      if (data.error) request.reject(new Error(data.error));
      else request.resolve(data);
    };
    this.worker.onerror = (event) => {
      const error = new Error(event.message || 'the model worker failed');
      this.pending.forEach((request) => request.reject(error));
      this.pending.clear();
    };
  }

  call(message, transfer = []) {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject});
      this.worker.postMessage({...message, id}, transfer);
    });
  }
}

/** Workers that run the models of successive frames side by side, each with its own
 * LiteRT.js: while frame N's model runs in one, N + 1's starts in the next, so a device
 * with a core to spare is not held to one model run at a time. */
class ModelWorkers {
  constructor(url, count) {
    this.workers = Array.from({length: count}, () => new ModelWorker(url));
    this.sent = 0;
  }

  get size() {
    return this.workers.length;
  }

  /** The same request to every worker (init, compile); the first one's answer. */
  async broadcast(message) {
    const answers = await Promise.all(this.workers.map((worker) => worker.call(message)));
    return answers[0];
  }

  /** A frame's run, to the workers in turn: with as many in flight as there are workers,
   * the one it goes to has just answered the oldest. */
  run(message, transfer) {
    const worker = this.workers[this.sent % this.workers.length];
    this.sent += 1;
    return worker.call(message, transfer);
  }
}

class BrowserCamera {
  constructor() {
    this.config = null;
    this.settings = {...(window.humanmattingWebcamSettings || {})};
    this.element = null;
    this.where = this.settings.where || 'browser';
    this.browserNote = null; // the note while this browser mats the camera
    this.problem = null; // why the browser cannot run it: set once, then the server is used
    this.ready = null; // promise: LiteRT.js and the chosen model loaded
    this.workers = null;
    this.files = new Map(); // model name -> bytes (the server's own file)
    this.compiled = new Map(); // "model@HxW" -> promise of the signature the worker runs
    this.smoother = null;
    this.stream = null;
    this.video = null;
    this.running = false;
    this.starting = false;
    // One loop at a time: each start() gets a new generation, and a frame of an older one
    // (in flight when the camera was stopped) goes no further.
    this.generation = 0;
    // watchFrames: frames the camera presented, the last one grabbed, a loop waiting for one.
    this.presented = 0;
    this.grabbed = -1;
    this.waiting = null;
    this.frame = document.createElement('canvas');
    this.finished = [];
    this.timings = [];
    this.frames = 0;
    // Where the refinement's working-size part runs: on whichever thread is less busy per
    // frame (averages of the worker's model time and the page's own work), since the
    // slower of the two sets the frame rate.
    this.load = {worker: 0, page: 0, coefficients: 0};
    this.last = null; // the last frame's pixels and matte, for snapshot()
    this.picture = null; // the background picture, loaded from its URL
    this.pictureUrl = null;
  }

  /** Bind to the tab's panel (js_on_load of the gr.HTML; again whenever Gradio re-mounts it). */
  attach(element) {
    if (element === this.element) return; // js_on_load again for the same panel
    this.element = element;
    this.compositor = new Compositor(element.querySelector('.hm-output'));
    element.querySelector('.hm-start').addEventListener('click', () => this.toggle());
    this.showButton();
    if (!this.ready) this.ready = this.prepare();
    if (this.problem) this.fallBack(this.problem);
  }

  /** The tab's note on where frames go: `text` while this browser mats them, the server's
   * note while the visitor chose the server (unless this browser cannot: `text` says so). */
  note(text) {
    if (text !== undefined) this.browserNote = text;
    const line = document.querySelector('#webcam-note .hm-note') || document.querySelector('#webcam-note');
    const onServer = this.where !== 'browser' && !this.problem;
    if (line && (this.browserNote || onServer)) line.textContent = onServer ? SERVER_NOTE : this.browserNote;
  }

  readout(text) {
    const line = this.element && this.element.querySelector('.hm-readout');
    if (line) line.textContent = text;
  }

  /** The panel's "refine edges" box (on unless cleared). */
  refineEdges() {
    const box = this.element && this.element.querySelector('.hm-refine input');
    return !box || box.checked;
  }

  /**
   * The share of the last matte each frame keeps: the tab's Smoothing slider (0: none),
   * the server's default (camera.json) until the tab has sent it.
   */
  smoothing() {
    const value = this.settings.smoothing ?? 1 - this.config.smoothing_weight;
    const share = Number(value);
    return share > 0 && share < 1 ? share : 0;
  }

  showButton() {
    const button = this.element && this.element.querySelector('.hm-start');
    if (button) button.textContent = this.running ? 'Stop the camera' : 'Start the camera';
  }

  /** Load the configuration, LiteRT.js and the chosen model; on failure, fall back. */
  async prepare() {
    try {
      const reason = unsupportedReason();
      if (reason) throw new Error(reason);
      const response = await fetch(CONFIG_URL);
      if (!response.ok) throw new Error(`camera.json: HTTP ${response.status}`);
      this.config = await response.json();
      if (!Object.keys(this.config.models).length) throw new Error('this server has no model for it');
      this.smoother = new Smoother(this.config.smoothing_weight);
      this.note('Loading the model into this browser…');
      this.workers = new ModelWorkers(new URL('worker.js', HERE), MODEL_WORKERS);
      await this.workers.broadcast({type: 'init', wasm: new URL('wasm/', HERE).href});
      const {width, height} = this.config.camera;
      await this.runner(this.modelName(), this.networkSize(height, width));
      this.note('The camera is matted in this browser (LiteRT.js, WebAssembly): no frame leaves this device.');
      this.readout(READY);
    } catch (error) {
      this.fallBack(`In-browser matting is not available (${oneLine(error)})`);
    }
  }

  /** Say why in one line, and hand the camera to the server's stream. */
  fallBack(reason) {
    this.problem = reason;
    this.stop();
    this.note(`${reason}; the camera is matted on the server instead.`);
    this.readout(reason);
    const server = document.querySelector('#webcam-where input[value="server"]');
    if (server && !server.checked) server.click();
  }

  modelName() {
    const models = this.config ? Object.keys(this.config.models) : [];
    return this.settings.model && models.includes(this.settings.model) ? this.settings.model : this.config.default_model;
  }

  networkSize(height, width) {
    const longSide = this.settings.size ? Number(this.settings.size) : this.config.default_long_side;
    return modelInputSize(height, width, longSide, this.config);
  }

  /** The worker's compiled model for `name` at (height, width): {key, signature, channels}. */
  async runner(name, [height, width]) {
    const description = this.config.models[name];
    if (!description) throw new Error(`unknown model ${name}`);
    const key = `${name}@${height}x${width}`;
    if (!this.compiled.has(key)) {
      const compiling = (async () => {
        if (!this.files.has(name)) {
          const response = await fetch(new URL(description.url, CONFIG_URL));
          if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
          this.files.set(name, new Uint8Array(await response.arrayBuffer()));
        }
        const fixed = this.config.fixed_signature.replace('{height}', height).replace('{width}', width);
        const {signature} = await this.workers.broadcast({
          type: 'compile',
          key,
          bytes: this.files.get(name),
          fixed,
          dynamic: this.config.dynamic_signature,
          height,
          width,
        });
        return signature;
      })();
      this.compiled.set(key, compiling);
      compiling.catch(() => this.compiled.delete(key));
      // The worker keeps the two most recent: so does this list of what it has.
      while (this.compiled.size > 2) this.compiled.delete(this.compiled.keys().next().value);
    }
    return {key, signature: await this.compiled.get(key), channels: description.channels, name};
  }

  /** New values of the tab's controls (humanmatting/app/tabs/browser_camera.py sends them on every change). */
  configure(settings) {
    const before = this.settings;
    this.settings = {...this.settings, ...settings};
    if (settings.where && settings.where !== this.where) this.setWhere(settings.where);
    if ('image' in settings) {
      const image = settings.image && settings.image.url ? settings.image.url : null;
      if (image !== this.pictureUrl) {
        this.pictureUrl = image;
        this.picture = null;
        if (image) {
          const picture = new Image();
          picture.onload = () => {
            if (this.pictureUrl === image) this.picture = picture;
          };
          picture.src = image;
        }
      }
    }
    if (before.smoothing !== this.settings.smoothing && this.smoother) this.smoother.reset();
  }

  setWhere(where) {
    this.where = where;
    if (where !== 'browser') this.stop();
    else if (this.problem) this.fallBack(this.problem);
    this.note();
  }

  async toggle() {
    if (this.running) this.stop();
    else await this.start();
  }

  async start() {
    if (this.running || this.starting) return;
    this.starting = true;
    try {
      await this.ready;
      if (this.problem) return;
      try {
        const {width, height} = this.config.camera;
        this.stream = await navigator.mediaDevices.getUserMedia({video: {width, height}, audio: false});
      } catch (error) {
        this.readout(`The camera could not be opened (${oneLine(error)}).`);
        return;
      }
      this.video = document.createElement('video');
      this.video.muted = true;
      this.video.playsInline = true;
      this.video.srcObject = this.stream;
      await this.video.play();
      this.watchFrames(this.video);
      this.running = true;
      this.frames = 0;
      this.finished = [];
      this.timings = [];
      if (this.smoother) this.smoother.reset();
      this.showButton();
      this.generation += 1;
      this.loop(this.generation).catch((error) => {
        if (this.running) this.fallBack(`In-browser matting failed (${oneLine(error)})`);
      });
    } finally {
      this.starting = false;
    }
  }

  stop() {
    this.generation += 1;
    // A stopped camera has no frame rate: the last one's readout goes.
    if (this.running && !this.problem) this.readout(READY);
    this.running = false;
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.video = null;
    if (this.waiting) {
      const wake = this.waiting; // a loop waiting for a frame: it wakes, and ends
      this.waiting = null;
      wake();
    }
    this.showButton();
  }

  /** Count the camera's frames as the video presents them (requestVideoFrameCallback),
   * so that the loop grabs a frame as soon as there is one it has not matted yet. */
  watchFrames(video) {
    this.presented = 0;
    this.grabbed = -1;
    this.waiting = null;
    const counted = (now, metadata) => {
      if (video !== this.video) return;
      this.presented = metadata && metadata.presentedFrames ? metadata.presentedFrames : this.presented + 1;
      if (this.waiting) {
        const wake = this.waiting;
        this.waiting = null;
        wake();
      }
      video.requestVideoFrameCallback(counted);
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(counted);
  }

  /** A camera frame not matted yet: at once when the camera has presented one since the
   * last grab, else the next one (or the next paint, where frames are not counted). */
  nextFrame() {
    if (!this.video || !this.video.requestVideoFrameCallback) {
      return new Promise((resolve) => requestAnimationFrame(() => resolve()));
    }
    if (this.presented > this.grabbed) {
      this.grabbed = this.presented;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting = () => {
        this.grabbed = this.presented;
        resolve();
      };
    });
  }

  /** Frames until stopped, in a pipeline: while the workers run the models of frames N
   * (and N + 1 in the second worker), this thread refines and composes frame N - 1 and
   * grabs and preprocesses the next, so a worker starts on it as soon as it is free. */
  async loop(generation) {
    const current = () => generation === this.generation && this.running && this.video;
    let previous = null; // a frame with its probability, to refine and compose
    const inFlight = []; // {frame, result}, oldest first: the models running in the workers
    while (current()) {
      if (previous) {
        this.finish(previous);
        previous = null;
      }
      await this.nextFrame();
      if (!current()) return;
      const frame = await this.grab();
      // Every worker busy (or no new frame to give one): take the oldest frame's matte.
      if (inFlight.length && (inFlight.length >= this.workers.size || !frame)) {
        const inference = inFlight.shift();
        const {probability, ms, parts, refineMs} = await inference.result;
        if (!current()) return;
        previous = {...inference.frame, probability, parts, modelMs: ms, workerRefineMs: refineMs};
      }
      if (!frame) continue;
      const transfer = [frame.input.buffer];
      let refine = null;
      if (frame.refine && this.coefficientsInWorker()) {
        refine = frame.refine;
        transfer.push(refine.guide.buffer);
      }
      const result = this.workers.run(
        {type: 'run', key: frame.runner.key, input: frame.input, shape: frame.shape, refine},
        transfer,
      );
      result.catch(() => {}); // a run still in flight when the camera stops fails unheard
      inFlight.push({frame, result});
    }
  }

  /** Grab and preprocess the current camera frame. */
  async grab() {
    const width = this.video.videoWidth;
    const height = this.video.videoHeight;
    if (!width || !height) return null;
    const started = performance.now();
    // Setting a canvas's size, even to the one it has, clears it and its context.
    if (this.frame.width !== width || this.frame.height !== height) {
      this.frame.width = width;
      this.frame.height = height;
    }
    const context = this.frame.getContext('2d', {willReadFrequently: true});
    if (this.config.camera.mirror) {
      // Mirrored like a mirror (and like the frames Gradio sends the server's stream): the
      // matte and a background picture then show the right way round.
      context.setTransform(-1, 0, 0, 1, width, 0);
      context.drawImage(this.video, 0, 0, width, height);
      context.setTransform(1, 0, 0, 1, 0, 0);
    } else {
      context.drawImage(this.video, 0, 0, width, height);
    }
    const pixels = context.getImageData(0, 0, width, height).data;
    const readMs = performance.now() - started;
    const size = this.networkSize(height, width);
    const runner = await this.runner(this.modelName(), size);
    const gray = rgbaToGray(pixels, width * height);
    const network = shrinkForNetwork(pixels, width, height, runner.channels, size, gray);
    const input = Float32Array.from(network);
    const pixelsThere = size[0] * size[1];
    // The edge refinement's first part runs in the worker, after the model: it gets the
    // guide at the working size (the network's gray input when that is the size).
    let refine = null;
    if (this.config.refine && this.refineEdges()) {
      const settings = this.config.refine;
      const work = workingSize(size[1], size[0], width, height, settings);
      const shrunk = {width: size[1], height: size[0], gray: runner.channels === 1 ? network : rgbToGray(network, pixelsThere)};
      const guide = workingGuide(gray, width, height, work, shrunk);
      // A copy of the frame's gray when it is the guide: the guide may be transferred to a worker.
      refine = {guide: guide === gray ? gray.slice() : guide, work, settings};
    }
    return {
      pixels,
      gray,
      refine,
      width,
      height,
      size,
      runner,
      input,
      shape: [1, size[0], size[1], runner.channels],
      started,
      prepareMs: performance.now() - started,
      readMs,
    };
  }

  /** As serving.StreamSession: the matte at the frame's size (refined with the frame as
   * guide, as the server's stream does, unless the panel's box is cleared), smoothed, and
   * composed with the background. */
  finish(frame) {
    const {pixels, gray, width, height, size, runner, probability} = frame;
    const began = performance.now();
    // The box as it is now, not as it was when the frame was grabbed (frames in flight).
    const refineNow = this.refineEdges();
    let parts = refineNow ? frame.parts : null;
    let pageCoefficientsMs = 0; // the working-size part, when this thread ran it
    if (!parts && frame.refine && refineNow) {
      const {guide, work, settings} = frame.refine;
      parts = coefficientsAtWork(probability, size[1], size[0], guide, work, settings);
      pageCoefficientsMs = performance.now() - began;
    }
    const refined = Boolean(parts);
    let alpha = refined
      ? alphaAtFrame(parts, frame.refine.work, gray, width, height)
      : resizeLinearFloat(probability, size[1], size[0], width, height);
    // As the server's refinement: solid and empty away from the outline.
    if (refined && this.config.clean) cleanAlpha(alpha, width, height, this.config.clean);
    const smoothing = this.smoothing();
    if (!smoothing) this.smoother.reset();
    else {
      this.smoother.weight = 1 - smoothing; // the new frame's share, as AlphaSmoother's
      alpha = this.smoother.apply(alpha);
    }
    const upsampled = performance.now();
    // The frame canvas holds the newest grab: the one composed here gets its own copy.
    const picture = this.compositor.frameCanvas(pixels, width, height);
    const threshold = this.settings.edges === 'hard' ? this.config.hard_threshold : null;
    const background = this.settings.background || this.config.default_background;
    const problem = this.compositor.render(
      picture,
      alpha,
      {background, color: this.settings.color, blur: Number(this.settings.blur ?? 15), threshold},
      this.picture,
    );
    const finished = performance.now();
    const coefficientsMs = !refined ? null : parts === frame.parts ? frame.workerRefineMs : pageCoefficientsMs;
    this.balance(frame, finished - began - pageCoefficientsMs, coefficientsMs);
    this.last = {pixels, width, height, alpha: Float32Array.from(alpha), size, name: runner.name, signature: runner.signature, refined};
    this.frames += 1;
    this.finished.push(finished);
    if (this.finished.length > RATE_WINDOW) this.finished.shift();
    this.timings.push({
      total: frame.prepareMs + frame.modelMs + (frame.workerRefineMs || 0) + (finished - began),
      latency: finished - frame.started,
      model: frame.modelMs,
      prepare: frame.prepareMs,
      read: frame.readMs,
      workerRefine: frame.workerRefineMs || 0,
      coefficientsInWorker: frame.parts ? 1 : 0,
      refine: upsampled - began + (frame.workerRefineMs || 0), // both parts: page and worker
      compose: finished - upsampled,
    });
    if (this.timings.length > RATE_WINDOW) this.timings.shift();
    const last = this.timings[this.timings.length - 1];
    this.readout(
      `${this.rate().toFixed(1)} frames/s · ${last.total.toFixed(0)} ms of work per frame in this browser ` +
        `(model ${last.model.toFixed(0)} ms${refined ? `, edges ${last.refine.toFixed(0)} ms` : ''}) ` +
        `· camera ${width}x${height}, network ${size[1]}x${size[0]} · ${runner.name} · frame ${this.frames}` +
        (problem ? ` · ${problem}` : ''),
    );
  }

  /** Update the threads' average work per frame from a finished frame: the page's own
   * (`finishMs` without the working-size refinement) and, when it was refined, that part's
   * time wherever it ran. */
  balance(frame, finishMs, coefficientsMs) {
    const average = (old, value) => (old ? old + (value - old) * BALANCE_WEIGHT : value);
    this.load.worker = average(this.load.worker, frame.modelMs / this.workers.size);
    this.load.page = average(this.load.page, frame.prepareMs + finishMs);
    if (coefficientsMs !== null) this.load.coefficients = average(this.load.coefficients, coefficientsMs);
  }

  /** Whether the next frame's working-size refinement runs in the worker: where adding it
   * leaves the busier thread less busy. */
  coefficientsInWorker() {
    const {worker, page, coefficients} = this.load;
    return Math.max(worker + coefficients, page) <= Math.max(worker, page + coefficients);
  }

  rate() {
    const n = this.finished.length;
    if (n < 2) return 0;
    return (n - 1) / Math.max((this.finished[n - 1] - this.finished[0]) / 1000, 1e-9);
  }

  /** Frames/s and the median times per frame over the last RATE_WINDOW frames. */
  stats() {
    const of = (name) => median(this.timings.map((t) => t[name]));
    return {
      running: this.running,
      problem: this.problem,
      frames: this.frames,
      frames_per_second: this.rate(),
      total_ms: of('total'),
      latency_ms: of('latency'),
      model_ms: of('model'),
      prepare_ms: of('prepare'),
      read_ms: of('read'),
      worker_refine_ms: of('workerRefine'),
      coefficients_in_worker: mean(this.timings.map((t) => t.coefficientsInWorker)),
      refine_ms: of('refine'),
      compose_ms: of('compose'),
      refined: this.last && this.last.refined,
      model: this.last && this.last.name,
      signature: this.last && this.last.signature,
      network: this.last && this.last.size,
    };
  }

  /** The last frame as a PNG data: URL, its matte at the frame's size (float32, as
   * base64: what the server's Matter.predict returns) and what the page shows for it (a
   * PNG data: URL), all of one frame: for tests and benchmarks. */
  snapshot() {
    const last = this.last;
    if (!last) return null;
    const picture = document.createElement('canvas');
    picture.width = last.width;
    picture.height = last.height;
    const context = picture.getContext('2d');
    context.putImageData(new ImageData(new Uint8ClampedArray(last.pixels), last.width, last.height), 0, 0);
    return {
      frame: picture.toDataURL('image/png'),
      shown: this.compositor.output.toDataURL('image/png'),
      alpha: base64(new Uint8Array(last.alpha.buffer)),
      width: last.width,
      height: last.height,
      network: last.size,
      model: last.name,
      signature: last.signature,
      refined: last.refined,
      index: this.frames,
    };
  }
}

const camera = new BrowserCamera();
window.humanmattingWebcam = camera;
window.dispatchEvent(new Event('humanmatting-webcam-ready'));
