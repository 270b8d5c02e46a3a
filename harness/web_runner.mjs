// Runs one job for tests/app/test_browser_preprocess.py: a function of web/src on raw arrays
// (.bin files named in a JSON job file), the result written to job.output.
import {readFileSync, writeFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

const [src, jobFile] = process.argv.slice(2);
const pp = await import(pathToFileURL(`${src}/preprocess.js`));
const tflite = await import(pathToFileURL(`${src}/tflite.js`));
const refine = await import(pathToFileURL(`${src}/refine.js`));
const job = JSON.parse(readFileSync(jobFile));

const bytes = (path) => new Uint8Array(readFileSync(path));
const floats = (path) => {
  const buffer = readFileSync(path);
  return new Float32Array(buffer.buffer, buffer.byteOffset, buffer.length / 4);
};
const write = (array) => writeFileSync(job.output, Buffer.from(array.buffer, array.byteOffset, array.byteLength));
const writeJson = (value) => writeFileSync(job.output, JSON.stringify(value));

if (job.kind === 'prepare') {
  write(pp.prepareInput(bytes(job.input), job.width, job.height, job.channels, job.size));
} else if (job.kind === 'sizes') {
  writeJson(job.cases.map(([height, width, side]) => pp.modelInputSize(height, width, side, job.config)));
} else if (job.kind === 'upsample') {
  write(pp.resizeLinearFloat(floats(job.input), job.width, job.height, job.outWidth, job.outHeight));
} else if (job.kind === 'smooth') {
  const smoother = new pp.Smoother(job.weight);
  const all = floats(job.input);
  const size = all.length / job.frames;
  const result = new Float32Array(all.length);
  for (let i = 0; i < job.frames; i++) {
    result.set(smoother.apply(all.subarray(i * size, (i + 1) * size)), i * size);
  }
  write(result);
} else if (job.kind === 'pin') {
  write(tflite.pinSignatureSize(bytes(job.input), job.signature, job.height, job.width));
} else if (job.kind === 'signatures') {
  writeJson(tflite.signatureSubgraphs(bytes(job.input)));
} else if (job.kind === 'refine') {
  const probability = floats(job.probability);
  const shrunk = job.shrunk ? {width: job.networkWidth, height: job.networkHeight, gray: bytes(job.shrunk)} : null;
  const rgba = bytes(job.rgba);
  write(refine.guidedUpsample(probability, job.networkWidth, job.networkHeight, rgba, job.width, job.height, job.settings, null, shrunk));
} else if (job.kind === 'clean') {
  write(refine.cleanAlpha(Float32Array.from(floats(job.alpha)), job.width, job.height, job.clean));
} else {
  throw new Error(`unknown job ${job.kind}`);
}
