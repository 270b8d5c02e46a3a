// npm run build: web/dist/webcam.js and worker.js (classic scripts: this folder's sources
// and LiteRT.js)
// and web/dist/wasm/ (LiteRT.js's WebAssembly: the SIMD and relaxed-SIMD builds; the
// threaded one needs a cross-origin-isolated page, which a Gradio page is not). The app
// serves web/dist/ as static files; nothing here is committed.
import {build} from 'esbuild';
import {copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {createHash} from 'node:crypto';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// Built beside web/dist and swapped in at the end: an app serving web/dist meanwhile never
// finds it half-written.
const final = join(here, 'dist');
const dist = join(here, 'dist.new');
const wasmSource = join(here, 'node_modules', '@litertjs', 'core', 'wasm');
const wasmFiles = [
  'litert_wasm_internal.js',
  'litert_wasm_internal.wasm',
  'litert_wasm_compat_internal.js',
  'litert_wasm_compat_internal.wasm',
];

rmSync(dist, {recursive: true, force: true});
mkdirSync(join(dist, 'wasm'), {recursive: true});
await build({
  // The page's script and its model worker, each one classic script.
  entryPoints: {webcam: join(here, 'src', 'webcam.js'), worker: join(here, 'src', 'worker.js')},
  outdir: dist,
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
const files = {};
for (const name of wasmFiles) {
  copyFileSync(join(wasmSource, name), join(dist, 'wasm', name));
}
for (const name of ['webcam.js', 'worker.js', ...wasmFiles.map((name) => `wasm/${name}`)]) {
  files[name] = createHash('sha256').update(readFileSync(join(dist, name))).digest('hex');
}
const litert = JSON.parse(readFileSync(join(here, 'node_modules', '@litertjs', 'core', 'package.json')));
writeFileSync(
  join(dist, 'build.json'),
  JSON.stringify({litertjs: litert.version, files}, null, 2) + '\n',
);
const old = join(here, 'dist.old');
rmSync(old, {recursive: true, force: true});
if (existsSync(final)) renameSync(final, old);
renameSync(dist, final);
rmSync(old, {recursive: true, force: true});
console.log(`web/dist: webcam.js, worker.js and ${wasmFiles.length} LiteRT.js files (LiteRT.js ${litert.version})`);
