"""checks.py — the check counter the Python test scripts share (tests/cli, tests/runtime,
tests/cache, tests/prof): check() prints 'ok   NAME' or 'FAIL NAME DETAIL' and counts it;
summary(SUITE) prints 'SUITE: N passed, N failed' (the line ctest's log ends with) and returns the
exit code.  A script imports it after putting tests/common on sys.path."""

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
