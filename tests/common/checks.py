"""checks.py — the check counter the Python test scripts share (tests/cli, tests/runtime,
tests/cache, tests/prof): check() prints 'ok   NAME' or 'FAIL NAME DETAIL' and counts it;
summary(SUITE) prints 'SUITE: N passed, N failed' (the line ctest's log ends with) and returns the
exit code; work_args() parses the --onnxc PATH --work DIR pair most scripts take.  A script
imports it after putting tests/common on sys.path."""
import argparse
import os
import shutil

counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    """counts one check; returns cond so a caller can skip what depends on it"""
    if cond:
        counts["passed"] += 1
        print("ok   %s" % name)
    else:
        counts["failed"] += 1
        print("FAIL %s %s" % (name, detail))
    return cond


def summary(suite):
    print("%s: %d passed, %d failed" % (suite, counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


def work_args(fresh=False):
    """--onnxc PATH --work DIR (both required); DIR is created, emptied first when fresh"""
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    if fresh:
        shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work, exist_ok=True)
    return a
