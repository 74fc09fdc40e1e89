#!/usr/bin/python3
"""Compare two .npy arrays: compare_npy.py A.npy B.npy [--rtol 1e-3] [--atol 1e-5]

Prints shape/dtype, max abs error, max rel error; passes when
|a - b| <= atol + rtol * |b| everywhere (numpy.allclose semantics, B is the
reference). Exit 0 = match, 1 = mismatch, 2 = usage / shape error.
Use Debian's /usr/bin/python3 (needs numpy).
"""
import argparse
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser(description="Compare two .npy files (B is the reference).")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-5)
    args = p.parse_args()
    a, b = np.load(args.a), np.load(args.b)
    if a.shape != b.shape:
        print("shape mismatch: %s %s vs %s %s" % (args.a, a.shape, args.b, b.shape))
        return 2
    if a.dtype == np.bool_ or b.dtype == np.bool_ or (
            np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer)):
        bad = int(np.count_nonzero(a != b))
        print("shape %s dtype %s/%s: %d mismatching elements" % (a.shape, a.dtype, b.dtype, bad))
        return 1 if bad else 0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    nan_mismatch = int(np.count_nonzero(np.isnan(a64) != np.isnan(b64)))
    diff = np.abs(a64 - b64)
    diff[np.isnan(a64) & np.isnan(b64)] = 0.0
    rel = diff / np.maximum(np.abs(b64), np.finfo(np.float64).tiny)
    ok = np.isclose(a64, b64, rtol=args.rtol, atol=args.atol, equal_nan=True)
    nbad = int(a.size - np.count_nonzero(ok))
    max_abs = float(np.nanmax(diff)) if diff.size else 0.0
    # Relative error only where |b| is not tiny, so near-zero refs don't dominate.
    sig = np.abs(b64) > args.atol
    max_rel = float(np.nanmax(rel[sig])) if np.any(sig) else 0.0
    print("shape %s dtype %s/%s: max_abs %.3e  max_rel %.3e (|ref|>atol)  "
          "mismatches %d/%d (rtol %g atol %g)%s"
          % (a.shape, a.dtype, b.dtype, max_abs, max_rel, nbad, a.size,
             args.rtol, args.atol, "  NaN-mismatch %d" % nan_mismatch if nan_mismatch else ""))
    if nbad:
        i = np.unravel_index(int(np.argmax(np.where(ok, 0, diff))), a.shape)
        print("worst at %s: %r vs %r" % (tuple(int(x) for x in i), a64[i], b64[i]))
        print("MISMATCH")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
