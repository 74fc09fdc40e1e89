#!/usr/bin/python3
"""run_conformance.py — runs the ONNX backend node suite through `onnxc run --test-data`.

Generates the cases (gen_cases.py, from Debian's python3-onnx) if needed, runs every case in its
own process (so a crash or hang is one failed case, not a failed runner), compares with the
checked-in pass list, and prints the suite figure.  Exit 1 if any case on the pass list fails, or
if a failing case is on neither the pass list nor excluded.txt (each exclusion carries a one-line
reason: "CASE  # reason"), or if a case is on both lists.

  run_conformance.py --onnxc build/onnxc --cases build/conformance/cases [--list passing.txt]
                     [--jobs 2] [--timeout 120] [--results FILE] [--update-list] [CASE...]
"""
import argparse
import concurrent.futures as cf
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def read_list(path):
    cases = []
    if os.path.exists(path):
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if line:
                cases.append(line)
    return cases


def read_reasons(path):
    """excluded.txt: 'CASE  # reason' per line; returns {case: reason}."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            body, _, reason = line.partition("#")
            body = body.strip()
            if body:
                out[body] = reason.strip()
    return out


def run_case(onnxc, cases_dir, name, timeout):
    d = os.path.join(cases_dir, name)
    cmd = [onnxc, "run", os.path.join(d, "model.onnx"), "--test-data", os.path.join(d, "test_data_set_0"),
           "--threads", "1"]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return name, False, "timeout after %ds" % timeout, time.time() - t0
    out = (p.stderr.strip() + "\n" + p.stdout.strip()).strip()
    if p.returncode < 0:
        return name, False, "crashed with signal %d" % -p.returncode, time.time() - t0
    msg = out.splitlines()[0] if out else ""
    return name, p.returncode == 0, msg[:300], time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--cases", required=True, help="folder for the generated cases")
    ap.add_argument("--list", default=os.path.join(HERE, "passing.txt"))
    ap.add_argument("--excluded", default=os.path.join(HERE, "excluded.txt"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--results", help="write a TSV of every case's result here")
    ap.add_argument("--update-list", action="store_true", help="add newly passing cases to the list")
    ap.add_argument("only", nargs="*", help="run only these cases")
    a = ap.parse_args()

    gen = subprocess.run([sys.executable, os.path.join(HERE, "gen_cases.py"), a.cases], capture_output=True, text=True)
    if gen.returncode != 0:
        print(gen.stderr, file=sys.stderr)
        print("conformance: case generation failed", file=sys.stderr)
        return 1
    names = sorted(n for n in os.listdir(a.cases) if os.path.isfile(os.path.join(a.cases, n, "model.onnx")))
    if a.only:
        names = [n for n in names if n in set(a.only)]
    listed = read_list(a.list)
    excluded = read_reasons(a.excluded)
    unreasoned = [n for n, r in excluded.items() if not r]
    both = [n for n in listed if n in excluded]
    if unreasoned or both:
        print("conformance: excluded.txt cases without a reason: %s; on both lists: %s"
              % (" ".join(unreasoned) or "none", " ".join(both) or "none"))
        return 1
    missing = [n for n in list(listed) + list(excluded) if n not in set(os.listdir(a.cases))]
    if missing:
        print("conformance: listed cases that the suite no longer generates: " + ", ".join(missing))
        return 1

    t0 = time.time()
    results = {}
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for name, ok, msg, dt in ex.map(lambda n: run_case(a.onnxc, a.cases, n, a.timeout), names):
            results[name] = (ok, msg, dt)
    npass = sum(1 for ok, _, _ in results.values() if ok)
    nfail = len(results) - npass
    if a.results:
        with open(a.results, "w") as f:
            for n in names:
                ok, msg, dt = results[n]
                f.write("%s\t%s\t%.2f\t%s\n" % (n, "pass" if ok else "fail", dt, msg.replace("\t", " ")))
    regressions = [n for n in listed if n in results and not results[n][0]]
    new = [n for n in names if results[n][0] and n not in set(listed)]
    for n in regressions:
        print("REGRESSION %s: %s" % (n, results[n][1]))
    unaccounted = [n for n in names if not results[n][0] and n not in set(listed) and n not in excluded]
    for n in unaccounted:
        print("UNACCOUNTED %s (fails, not in excluded.txt): %s" % (n, results[n][1]))
    passing_excluded = [n for n in names if results[n][0] and n in excluded]
    if passing_excluded:
        print("conformance: %d excluded cases now pass (move them to the pass list): %s"
              % (len(passing_excluded), " ".join(passing_excluded)))
    if a.update_list and new:
        with open(a.list, "a") as f:
            for n in new:
                f.write(n + "\n")
        print("conformance: added %d newly passing cases to %s" % (len(new), a.list))
    elif new:
        print("conformance: %d cases pass but are not on the list (run with --update-list): %s"
              % (len(new), " ".join(new[:20]) + (" ..." if len(new) > 20 else "")))
    total = len(results)
    print("conformance: %d of %d suite cases pass (%.1f%%), %d on the pass list, %d regressions, %.0f s"
          % (npass, total, 100.0 * npass / max(total, 1), len(listed), len(regressions), time.time() - t0))
    reasons = {}
    for n in names:
        if not results[n][0] and n in excluded:
            reasons[excluded[n]] = reasons.get(excluded[n], 0) + 1
    for r, k in sorted(reasons.items(), key=lambda x: -x[1]):
        print("  excluded %3d: %s" % (k, r))
    print("conformance: %d passed, %d failed" % (npass, nfail))
    return 1 if regressions or unaccounted else 0


if __name__ == "__main__":
    sys.exit(main())
