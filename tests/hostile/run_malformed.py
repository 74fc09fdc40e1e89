#!/usr/bin/python3
"""run_malformed.py — runs onnxc on every case of the malformed-model catalogue (gen_malformed.py)
and checks: exit code 1, exactly one line on stderr containing the expected text, no signal,
finished within the timeout.

  run_malformed.py --onnxc build/onnxc --work DIR [--timeout S] [--jobs N] [NAME_SUBSTRING...]
Ends with 'malformed: N passed, N failed'."""
import argparse
import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_case(a, c, env):
    """(reason it failed or None, stderr's non-empty lines, stderr, seconds)"""
    t0 = time.time()
    try:
        p = subprocess.run([a.onnxc] + c["args"], capture_output=True, text=True, errors="replace",
                           timeout=a.timeout, env=env, cwd=c["dir"])
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, ""
    lines = [l for l in err.splitlines() if l.strip()]
    if rc is None:
        why = "timed out after %g s" % a.timeout
    elif rc < 0:
        why = "killed by signal %s" % signal.Signals(-rc).name
    elif rc != 1:
        why = "exit %d (expected 1)" % rc
    elif len(lines) != 1:
        why = "%d lines on stderr (expected 1)" % len(lines)
    elif c["expect"].lower() not in err.lower():
        why = "message lacks %r" % c["expect"]
    else:
        why = None
    return why, lines, err, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="cases run at a time")
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    a.onnxc = os.path.abspath(a.onnxc)
    subprocess.run([sys.executable, os.path.join(HERE, "gen_malformed.py"), a.work], check=True)
    with open(os.path.join(a.work, "manifest.json")) as f:
        cases = json.load(f)
    env = dict(os.environ, ONNXC_THREADS="1")
    todo = [c for c in cases if not a.only or any(s.lower() in c["name"].lower() for s in a.only)]
    passed = failed = 0
    # each case is its own single-threaded onnxc process: run --jobs of them at a time, report in order
    with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for c, (why, lines, err, dt) in zip(todo, ex.map(lambda c: run_case(a, c, env), todo)):
            if why:
                failed += 1
                print("FAIL %s (%.1f s): %s\n     stderr: %s"
                      % (c["name"], dt, why, err.strip()[:400].replace("\n", "\n             ")))
            else:
                passed += 1
                print("ok   %s (%.1f s): %s" % (c["name"], dt, lines[0][:160]))
    print("malformed: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
