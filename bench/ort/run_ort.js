#!/usr/bin/env node
'use strict';
// ONNX Runtime (CPU) reference runner.
// Usage: node run_ort.js MODEL.onnx OUTDIR input1.npy [input2.npy ...]
//          [--iters N] [--warmup N] [--threads N] [--no-opt]
// Inputs bind to the graph inputs in order (or NAME=file.npy to bind by name).
// Writes OUTDIR/output_K.npy in graph-output order; prints timings to stderr.
// --iters N: time N runs after --warmup runs (default 1 timed run, 0 warmup).
// --threads N: intra-op threads (default: ORT's default).
// --no-opt: graphOptimizationLevel 'disabled' (default 'all').
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy.js');

function usage(msg) {
  if (msg) console.error(`run_ort: ${msg}`);
  console.error('usage: node run_ort.js MODEL OUTDIR input1.npy [input2.npy ...] [--iters N] [--warmup N] [--threads N] [--no-opt]');
  process.exit(2);
}

async function main() {
  const pos = [];
  const opt = { iters: 1, warmup: 0, threads: 0, noOpt: false };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return Number(argv[++i]); };
    if (a === '--iters') opt.iters = val();
    else if (a === '--warmup') opt.warmup = val();
    else if (a === '--threads') opt.threads = val();
    else if (a === '--no-opt') opt.noOpt = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else pos.push(a);
  }
  if (pos.length < 2) usage();
  const [modelPath, outDir, ...inputFiles] = pos;

  const so = { graphOptimizationLevel: opt.noOpt ? 'disabled' : 'all', executionProviders: ['cpu'] };
  if (opt.threads > 0) { so.intraOpNumThreads = opt.threads; so.interOpNumThreads = 1; }
  let t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(modelPath, so);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const names = session.inputNames;
  const feeds = {};
  inputFiles.forEach((f, k) => {
    let name = names[k];
    const eq = f.indexOf('=');
    if (eq > 0 && !fs.existsSync(f)) { name = f.slice(0, eq); f = f.slice(eq + 1); }
    if (name === undefined) usage(`too many inputs: model has ${names.length} (${names.join(', ')})`);
    const a = readNpy(f);
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  });
  const missing = names.filter((n) => !(n in feeds));
  if (missing.length) usage(`missing inputs: ${missing.join(', ')}`);

  for (let i = 0; i < opt.warmup; i++) await session.run(feeds);
  const times = [];
  let results;
  for (let i = 0; i < Math.max(1, opt.iters); i++) {
    t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  fs.mkdirSync(outDir, { recursive: true });
  session.outputNames.forEach((n, k) => {
    const t = results[n];
    const file = path.join(outDir, `output_${k}.npy`);
    writeNpy(file, t.type, t.dims.map(Number), t.data);
    console.error(`output_${k}: ${n} ${t.type} [${t.dims.join(', ')}] -> ${file}`);
  });
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.error(`ort ${ort.env.versions.node}: load ${loadMs.toFixed(1)} ms; run x${times.length}: ` +
    `min ${sorted[0].toFixed(2)} ms, median ${median.toFixed(2)} ms`);
  await session.release();
}

main().catch((e) => { console.error(`run_ort: ${e && e.stack ? e.stack : e}`); process.exit(1); });
