#!/usr/bin/python3
"""Export torch models to ONNX test fixtures for onnxc.

Usage: /usr/bin/python3 tests/models/export_models.py OUTDIR [names...]

Needs Debian's python3 (python3-torch, python3-torchvision, python3-onnx,
numpy). Weights are random (seeded), never downloaded; models are in eval mode.

For each model NAME this writes:
  OUTDIR/NAME/model.onnx
  OUTDIR/NAME/input_K.npy, OUTDIR/NAME/expected_K.npy   (float32, C order)
  OUTDIR/NAME/test_data_set_0/input_K.pb, output_K.pb   (ONNX TensorProtos)
  OUTDIR/NAME/.stamp   (hash of this script + torch version; skip re-export
                        when it matches and all files exist; --force ignores)
Options: --force (re-export), --verbose (show torch.onnx warnings).

To add a model: write a constructor returning an nn.Module and add an entry
to MODELS: name -> (constructor, [input shapes], options).
"""
import hashlib
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

OPSET = 13
SEED = 0


# ---------------------------------------------------------------- models

def make_resnet18():
    import torchvision
    return torchvision.models.resnet18(weights=None)


class MLP(nn.Module):
    def __init__(self, d_in=64, d_hidden=128, d_out=10):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class LSTMModel(nn.Module):
    """2-layer LSTM, input 16, hidden 32; returns the full output sequence."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=16, hidden_size=32, num_layers=2)

    def forward(self, x):  # x: (seq=10, batch=1, 16)
        out, _ = self.lstm(x)
        return out


# name -> (constructor, list of input shapes, options)
# options: input_names / output_names (defaults: input / output for a single
# input/output, input_K / output_K otherwise), opset.
MODELS = {
    "resnet18": (make_resnet18, [(1, 3, 224, 224)], {}),
    "mlp": (MLP, [(1, 64)], {}),
    "lstm": (LSTMModel, [(10, 1, 16)], {}),
}


# ---------------------------------------------------------------- export

def script_hash():
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def io_names(n, opts, key, single, multi):
    names = opts.get(key)
    if names:
        return list(names)
    return [single] if n == 1 else ["%s_%d" % (multi, i) for i in range(n)]


def expected_files(d, n_in, n_out):
    files = [os.path.join(d, "model.onnx")]
    for i in range(n_in):
        files += [os.path.join(d, "input_%d.npy" % i),
                  os.path.join(d, "test_data_set_0", "input_%d.pb" % i)]
    for i in range(n_out):
        files += [os.path.join(d, "expected_%d.npy" % i),
                  os.path.join(d, "test_data_set_0", "output_%d.pb" % i)]
    return files


def export(name, outdir, stamp, force=False):
    import onnx
    from onnx import numpy_helper

    ctor, shapes, opts = MODELS[name]
    d = os.path.join(outdir, name)
    stamp_path = os.path.join(d, ".stamp")
    if not force and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            lines = f.read().split()
        if lines and lines[0] == stamp:
            n_out = int(lines[1]) if len(lines) > 1 else 1
            if all(os.path.exists(p) for p in expected_files(d, len(shapes), n_out)):
                print("%-10s up to date (%s)" % (name, d))
                return
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)

    t0 = time.time()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    model = ctor().eval()
    # Inputs: seeded standard normal, float32.
    rng = np.random.RandomState(SEED)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    tin = tuple(torch.from_numpy(a) for a in inputs)

    with torch.no_grad():
        out = model(*tin)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    outs = [o.detach().cpu().numpy() for o in outs]

    in_names = io_names(len(inputs), opts, "input_names", "input", "input")
    out_names = io_names(len(outs), opts, "output_names", "output", "output")
    model_path = os.path.join(d, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, tin, model_path,
                          input_names=in_names, output_names=out_names,
                          opset_version=opts.get("opset", OPSET),
                          do_constant_folding=True,
                          export_params=True)
    m = onnx.load(model_path)
    onnx.checker.check_model(m)
    graph_in = [i.name for i in m.graph.input
                if i.name not in {t.name for t in m.graph.initializer}]
    graph_out = [o.name for o in m.graph.output]
    assert graph_in == in_names, (graph_in, in_names)
    assert graph_out == out_names, (graph_out, out_names)

    for i, a in enumerate(inputs):
        np.save(os.path.join(d, "input_%d.npy" % i), a)
        t = numpy_helper.from_array(a, name=in_names[i])
        with open(os.path.join(d, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(t.SerializeToString())
    for i, a in enumerate(outs):
        a = np.ascontiguousarray(a)
        np.save(os.path.join(d, "expected_%d.npy" % i), a)
        t = numpy_helper.from_array(a, name=out_names[i])
        with open(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), "wb") as f:
            f.write(t.SerializeToString())
    with open(stamp_path, "w") as f:
        f.write("%s %d\n" % (stamp, len(outs)))
    print("%-10s exported in %.1fs -> %s (inputs %s, outputs %s)" % (
        name, time.time() - t0, d,
        [a.shape for a in inputs], [a.shape for a in outs]))


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    force = "--force" in argv
    if not args or "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        print("\nmodels: " + " ".join(MODELS))
        return 0 if args or "-h" in argv or "--help" in argv else 2
    outdir, names = args[0], args[1:] or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print("unknown model(s): %s; known: %s" % (" ".join(unknown), " ".join(MODELS)),
              file=sys.stderr)
        return 2
    if "--verbose" not in argv:
        # torch.onnx's LSTM/shape-inference UserWarnings are noise here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    stamp = script_hash()
    for n in names:
        export(n, outdir, stamp, force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
