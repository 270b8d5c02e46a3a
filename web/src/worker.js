// The model, in a Web Worker: LiteRT.js runs frame N here while the page refines and
// composes frame N - 1, so the two share the device's cores instead of taking turns.
//
// It also runs the first part of the edge refinement (refine.js coefficientsAtWork, at the
// working size) when the run asks for it: the page asks while this is the less busy thread
// (webcam.js coefficientsInWorker), and keeps the part at the frame's size.
//
// Messages in: {id, type: 'init', wasm} | {id, type: 'compile', key, bytes, fixed, dynamic,
// height, width} | {id, type: 'run', key, input, shape, refine?: {guide, work, settings}}.
// Each is answered {id, ...} or {id, error}; inputs and outputs travel as transferred
// buffers (no copies).

import {Tensor, loadAndCompile, loadLiteRt} from '@litertjs/core';

import {coefficientsAtWork} from './refine.js';
import {pinSignatureSize} from './tflite.js';

const COMPILED_KEPT = 2; // compiled (model, size) pairs kept: each holds its own buffers
const compiled = new Map(); // key -> {model, signature}

async function compile({key, bytes, fixed, dynamic, height, width}) {
  if (compiled.has(key)) return compiled.get(key);
  // The signature the server would run (runtime.LiteRTBackend.signature_for): the file's
  // fixed-shape one for this size when it has it, else the any-size graph pinned to it.
  let model = await loadAndCompile(bytes, {accelerator: 'wasm'});
  let signature = fixed;
  if (!model.signatures[fixed]) {
    model.delete();
    model = await loadAndCompile(pinSignatureSize(bytes, dynamic, height, width), {accelerator: 'wasm'});
    signature = dynamic;
  }
  const entry = {model, signature};
  compiled.set(key, entry);
  while (compiled.size > COMPILED_KEPT) {
    const [oldest, old] = compiled.entries().next().value;
    compiled.delete(oldest);
    old.model.delete();
  }
  return entry;
}

async function run({key, input, shape}) {
  const entry = compiled.get(key);
  if (!entry) throw new Error(`model ${key} is not compiled`);
  const started = performance.now();
  const tensor = new Tensor(input, shape);
  try {
    const outputs = await entry.model.run(entry.signature, tensor);
    const output = outputs[0].toTypedArray();
    const pixels = shape[1] * shape[2];
    const classes = output.length / pixels;
    // The person probability: the last channel (1 channel, or an older 2-class softmax).
    const probability = new Float32Array(pixels);
    for (let i = 0; i < pixels; i++) probability[i] = output[i * classes + classes - 1];
    outputs.forEach((each) => each.delete());
    return {probability, ms: performance.now() - started};
  } finally {
    tensor.delete();
  }
}

self.onmessage = async ({data}) => {
  try {
    if (data.type === 'init') {
      // In a worker, Emscripten looks for the .wasm beside this script; it is in wasm/.
      // LiteRT writes its information lines to stderr ("INFO: Created TensorFlow Lite
      // XNNPACK delegate", "WARNING: [npu_registry.cc:34] NPU accelerator could not be
      // loaded"), which Emscripten logs as console errors: they are not.
      self.Module = {
        locateFile: (file) => new URL(file, data.wasm).href,
        printErr: (text) => {
          if (/^INFO: /.test(text)) console.info(text);
          else if (/^WARNING: /.test(text)) console.warn(text);
          else console.error(text);
        },
      };
      await loadLiteRt(data.wasm);
      self.postMessage({id: data.id});
    } else if (data.type === 'compile') {
      const {signature} = await compile(data);
      self.postMessage({id: data.id, signature});
    } else if (data.type === 'run') {
      const {probability, ms} = await run(data);
      const transfer = [probability.buffer];
      let parts = null;
      let refineMs = 0;
      if (data.refine) {
        const started = performance.now();
        const {guide, work, settings} = data.refine;
        parts = coefficientsAtWork(probability, data.shape[2], data.shape[1], guide, work, settings);
        refineMs = performance.now() - started;
        for (const array of Object.values(parts)) transfer.push(array.buffer);
      }
      self.postMessage({id: data.id, probability, ms, parts, refineMs}, transfer);
    }
  } catch (error) {
    self.postMessage({id: data.id, error: String(error && error.message ? error.message : error)});
  }
};
