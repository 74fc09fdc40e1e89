#!/usr/bin/python3
"""prof_test.py — onnxc bench --profile, --profile-json and --perf-map on a small model:
the table lists every node, the node times add up to about the mean run, the Chrome trace parses
and has one Node event per node, and the perf map has one line per JIT kernel inside the JIT's
code (perfmap_test, in the process that compiled it).

  prof_test.py --onnxc build/onnxc --perfmap-test build/tests/prof/perfmap_test --work DIR
Ends with 'prof: N passed, N failed'."""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary  # noqa: E402


def small_model(path):
    """seven nodes of a few kinds that take some time each (256-wide MatMuls), none fused away
    with --no-fuse; the named nodes the table must list"""
    rng = np.random.default_rng(1)
    w = [numpy_helper.from_array(rng.standard_normal((256, 256)).astype(np.float32) * 0.05, "w%d" % i)
         for i in range(3)]
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["a"], name="mm0"),
        helper.make_node("Relu", ["a"], ["b"], name="relu0"),
        helper.make_node("MatMul", ["b", "w1"], ["c"], name="mm1"),
        helper.make_node("Transpose", ["c"], ["d"], name="tr", perm=[1, 0]),
        helper.make_node("MatMul", ["d", "w2"], ["e"], name="mm2"),
        helper.make_node("Sigmoid", ["e"], ["f"], name="sig"),
        helper.make_node("Softmax", ["f"], ["y"], name="softmax", axis=-1),
    ]
    g = helper.make_graph(nodes, "prof", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [256, 256])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [256, 256])], w)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return [n.name for n in nodes]


def bench(onnxc, *args):
    env = dict(os.environ)
    env.pop("ONNXC_PERF_MAP", None)
    p = subprocess.run([onnxc, "bench"] + list(args), capture_output=True, timeout=300, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def table_rows(out):
    """the per-node rows of the --profile table: (us, pct, op, kernel, shape, name)"""
    rows, inside = [], False
    for line in out.splitlines():
        if line.strip().startswith("us/run"):
            inside = True
            continue
        if inside and not line.strip():
            break
        if inside:
            f = line.split()
            rows.append((float(f[0]), float(f[1]), f[4], f[5], f[6], " ".join(f[7:])))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--perfmap-test", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model = os.path.join(a.work, "prof.onnx")
    names = small_model(model)
    trace = os.path.join(a.work, "trace.json")
    if os.path.exists(trace):
        os.remove(trace)

    rc, out, err = bench(a.onnxc, model, "--no-fuse", "--threads", "1", "--runs", "30", "--profile",
                         "--profile-json", trace)
    check("bench --profile exits 0", rc == 0, err[-500:])
    rows = table_rows(out)
    listed = [r[5] for r in rows]
    check("the table lists every node once", sorted(listed) == sorted(names), (listed, names))
    check("rows sorted by time", all(rows[i][0] >= rows[i + 1][0] for i in range(len(rows) - 1)), rows)
    ops = {r[5]: r[2] for r in rows}
    check("ops named", ops.get("mm0") == "MatMul" and ops.get("softmax") == "Softmax", ops)
    check("shapes named", all(r[4] == "256x256" for r in rows), rows)
    check("kernels named", all(re.match(r"k_\d+", r[3]) for r in rows), rows)
    m = re.search(r"nodes sum ([0-9.]+) ms per run = ([0-9.]+)% of the ([0-9.]+) ms mean run", out)
    check("summary line", m is not None, out[:500])
    if m:
        pct = float(m.group(2))
        check("node times add up to about the run (%.1f%%)" % pct, 70 <= pct <= 100.5, out[:500])
    check("percentages add up to 100", rows and abs(sum(r[1] for r in rows) - 100) < 0.5, rows)
    check("per-op summary", "per op type:" in out and re.search(r"^MatMul\s+3\s", out, re.M) is not None, out[-600:])
    check("GFLOP/s for MatMul", all(re.match(r"[0-9.]+$", line.split()[3]) for line in out.splitlines()
                                    if line.split()[-1:] and line.split()[-1] in ("mm0", "mm1", "mm2")), out[:800])
    try:
        tr = json.load(open(trace))
        ev = tr["traceEvents"]
        node_ev = [e for e in ev if e.get("cat") == "Node"]
        check("trace: one Node event per node", sorted(e["name"] for e in node_ev) == sorted(names),
              [e["name"] for e in node_ev])
        check("trace: complete events in microseconds",
              all(e["ph"] == "X" and e["dur"] >= 0 and e["ts"] >= 0 and "op_name" in e["args"] for e in node_ev), node_ev[:2])
        run = [e for e in ev if e.get("cat") == "Session"]
        check("trace: one model_run event spanning the nodes",
              len(run) == 1 and all(e["ts"] + e["dur"] <= run[0]["dur"] + 1e-3 for e in node_ev), run)
        check("trace: nodes in order, not overlapping",
              all(node_ev[i]["ts"] + node_ev[i]["dur"] <= node_ev[i + 1]["ts"] + 1e-3 for i in range(len(node_ev) - 1)))
    except (OSError, ValueError, KeyError) as e:
        check("trace parses", False, repr(e))

    # with fusion: fewer nodes, still each listed with its own name
    rc, out, err = bench(a.onnxc, model, "--threads", "1", "--runs", "3", "--profile", "--json")
    check("bench --profile --json: JSON on stdout, table on stderr",
          rc == 0 and json.loads(out)["runs"] == 3 and "per op type:" in err, (out[:300], err[-300:]))
    listed = [r[5] for r in table_rows(err)]
    check("fused graph: each node listed once, by a model name", len(set(listed)) == len(listed) and
          set(listed) <= set(names) and len(listed) > 0, listed)

    # how the run split over threads, by CPU time: at 1 thread the critical path is the work; at 2
    # the MatMuls are split into tasks (the trace's args) and the critical path is shorter
    m = re.search(r"work ([0-9.]+) ms, critical path ([0-9.]+) ms, speed-up bound ([0-9.]+)x", err)
    check("1 thread: split summary, critical path = work", m is not None and m.group(1) == m.group(2) and
          m.group(3) == "1.00", err[-800:])
    rc, out, err = bench(a.onnxc, model, "--no-fuse", "--threads", "2", "--runs", "5", "--profile", "--profile-json",
                         trace)
    m = re.search(r"work ([0-9.]+) ms, critical path ([0-9.]+) ms, speed-up bound ([0-9.]+)x", out)
    check("2 threads: split summary, 0 < critical path < work", rc == 0 and m is not None and
          0 < float(m.group(2)) < float(m.group(1)) and float(m.group(3)) > 1, out[-800:])
    check("2 threads: the nodes that hold the run back listed", "held back most" in out and
          re.search(r"^\s+[0-9.-]+\s+[0-9.]+\s+[0-9.]+\s+\d+\s+MatMul\s+k_\d+\s+256x256\s+mm\d$", out, re.M), out[-800:])
    try:
        tasks = {e["name"]: e["args"].get("tasks") for e in json.load(open(trace))["traceEvents"]
                 if e.get("cat") == "Node"}
    except (OSError, ValueError, KeyError) as e:
        tasks = {"error": repr(e)}
    check("2 threads: MatMuls split into tasks (trace args)", all((tasks.get(n) or 0) > 1 for n in ("mm0", "mm1", "mm2")),
          tasks)

    # no profile, no map, unless asked
    env = dict(os.environ)
    env.pop("ONNXC_PERF_MAP", None)
    p = subprocess.Popen([a.onnxc, "bench", model, "--runs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    out, err = [x.decode(errors="replace") for x in p.communicate(timeout=300)]
    check("plain bench: no profile table", p.returncode == 0 and "per op type" not in out + err, out)
    check("plain bench: no perf map", not os.path.exists("/tmp/perf-%d.map" % p.pid))
    # --perf-map from the CLI: a file for that process with kernel names
    p = subprocess.Popen([a.onnxc, "bench", model, "--runs", "2", "--perf-map"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=300)
    path = "/tmp/perf-%d.map" % p.pid
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    check("--perf-map writes /tmp/perf-PID.map", p.returncode == 0 and len(lines) > 1, (err[-300:], path))
    check("--perf-map lines: START SIZE onnxc:NAME",
          all(re.match(r"[0-9a-f]+ [0-9a-f]+ onnxc:\S+$", line) for line in lines), lines[:5])
    if os.path.exists(path):
        os.remove(path)

    p = subprocess.run([a.perfmap_test, model], capture_output=True, timeout=300)
    print(p.stdout.decode(errors="replace"), end="")
    check("perfmap_test (in-process addresses, one line per kernel)", p.returncode == 0,
          p.stderr.decode(errors="replace")[-500:])

    return summary("prof")


if __name__ == "__main__":
    sys.exit(main())
