#!/usr/bin/python3
"""Export torch models to ONNX test fixtures for onnxc.

Usage: /usr/bin/python3 tests/models/export_models.py OUTDIR [names...]

Needs Debian's python3 (python3-torch, python3-torchvision, python3-onnx,
numpy). Weights are random (seeded), never downloaded; models are in eval mode.

For each model NAME this writes:
  OUTDIR/NAME/model.onnx
  OUTDIR/NAME/input_K.npy, OUTDIR/NAME/expected_K.npy   (float32 or int64, C order)
  OUTDIR/NAME/test_data_set_0/input_K.pb, output_K.pb   (ONNX TensorProtos)
  OUTDIR/NAME/.stamp   (hash of the model's definition + torch version; skip
                        re-export when it matches and all files exist; --force ignores)
Options: --force (re-export), --verbose (show torch.onnx warnings).

To add a model: write a constructor returning an nn.Module and add an entry
to MODELS: name -> (constructor, [input shapes], options).
Names: `all` = every model but the benchmark-only ones, `quick` = those marked quick (ctest's
`models` test), `bench` = the benchmark-only ones (bench/harness.py: larger RNNs, ConvNeXt-T,
ViT-B/16, batch-8 ResNet-50 and BERT).
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

def tv(name, **kw):
    """A torchvision classifier with random weights (weights=None: nothing downloaded)."""
    def ctor():
        import torchvision
        return getattr(torchvision.models, name)(weights=None, **kw)
    return ctor


def make_vit():
    """ViT-Ti/16 (DeiT-tiny shape): 224x224, patch 16, 12 layers, width 192, 3 heads."""
    from torchvision.models.vision_transformer import VisionTransformer
    vit = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=3,
                            hidden_dim=192, mlp_dim=768)
    nn.init.normal_(vit.heads.head.weight, std=0.02)  # torchvision zero-inits the head
    return vit


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


class BiGRUModel(nn.Module):
    """2-layer bidirectional GRU, input 16, hidden 32, then a linear head on every step."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(input_size=16, hidden_size=32, num_layers=2, bidirectional=True,
                          batch_first=True)
        self.head = nn.Linear(64, 8)

    def forward(self, x):  # x: (batch=2, seq=12, 16)
        out, _ = self.gru(x)
        return self.head(out)


class RNN256(nn.Module):
    """2-layer LSTM or GRU, input and hidden 256, batch 1 (the benchmark's recurrent rows)."""

    def __init__(self, kind):
        super().__init__()
        self.rnn = getattr(nn, kind)(input_size=256, hidden_size=256, num_layers=2)

    def forward(self, x):  # x: (seq=100, batch=1, 256)
        out, _ = self.rnn(x)
        return out


def make_vit_b16():
    """torchvision's ViT-B/16 with random weights (its zero-initialized head given weights)."""
    import torchvision
    vit = torchvision.models.vit_b_16(weights=None)
    nn.init.normal_(vit.heads.head.weight, std=0.02)
    return vit


class Bert(nn.Module):
    """BERT-base-shaped encoder: token + position + segment embeddings, LayerNorm, 12 post-norm
    layers (768 wide, 12 heads, GELU FFN 3072), pooler (tanh of the first token)."""

    def __init__(self, vocab=30522, d=768, heads=12, layers=12, ff=3072, max_len=512):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.seg = nn.Embedding(2, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu",
                                           batch_first=True, layer_norm_eps=1e-12)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pool = nn.Linear(d, d)
        # TransformerEncoder deep-copies one layer: give each layer its own weights (else all 12
        # are equal and torch.onnx stores them once)
        for p in self.enc.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, ids, segs):  # ids, segs: (batch, seq) int64
        pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.norm(self.tok(ids) + self.pos(pos) + self.seg(segs))
        h = self.enc(x)
        return h, torch.tanh(self.pool(h[:, 0]))


def causal_mask(n):
    """Additive (n, n) mask, -inf above the diagonal. Built from arange and a comparison, not
    torch.triu (nn.Transformer.generate_square_subsequent_mask), which opset 13 cannot export."""
    i = torch.arange(n)
    return torch.zeros(n, n).masked_fill(i.unsqueeze(0) > i.unsqueeze(1), float("-inf"))


class GPTBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """GPT-2-style pre-norm decoder: 6 layers, width 384, 6 heads, causal mask, tied LM head."""

    def __init__(self, vocab=8192, d=384, heads=6, layers=6, max_len=256):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(GPTBlock(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)

    def forward(self, ids):  # ids: (batch, seq) int64
        n = ids.shape[1]
        mask = causal_mask(n)
        x = self.tok(ids) + self.pos(torch.arange(n).unsqueeze(0))
        for b in self.blocks:
            x = b(x, mask)
        return self.ln(x) @ self.tok.weight.t()


class Seq2Seq(nn.Module):
    """torch.nn.Transformer (encoder-decoder): width 256, 8 heads, 3+3 layers, causal target mask."""

    def __init__(self):
        super().__init__()
        self.t = nn.Transformer(d_model=256, nhead=8, num_encoder_layers=3, num_decoder_layers=3,
                                dim_feedforward=1024, dropout=0.0)

    def forward(self, src, tgt):  # src: (S=32, N=2, 256), tgt: (T=20, N=2, 256)
        mask = causal_mask(tgt.shape[0])
        return self.t(src, tgt, tgt_mask=mask)


class DynCNN(nn.Module):
    """Small CNN for free dims: symbolic batch, height and width (global pooling at the end)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))

    def forward(self, x):
        return self.body(x)


def ids(shape, hi):
    return ("int64", shape, hi)


# name -> (constructor, list of inputs, options). An input is a float32 shape (seeded standard
# normal) or ids(shape, hi) (seeded int64 in [0, hi)).
# options: input_names / output_names (defaults: input / output for a single input/output,
# input_K / output_K otherwise), opset, dynamic_axes (torch.onnx's: symbolic dims), alt (inputs
# of a second shape for a model with symbolic dims: input_alt_K.npy, expected_alt_K.npy), quick (cheap
# enough for ctest's `models` test; the rest run in `make test-models`).
MODELS = {
    "mlp": (MLP, [(1, 64)], {"quick": True}),
    "resnet18": (tv("resnet18"), [(1, 3, 224, 224)], {"quick": True}),
    "resnet18_dyn": (tv("resnet18"), [(1, 3, 224, 224)],
                     {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}},
                      "alt": [(4, 3, 224, 224)]}),
    "resnet50": (tv("resnet50"), [(1, 3, 224, 224)], {}),
    "mobilenet_v2": (tv("mobilenet_v2"), [(1, 3, 224, 224)], {"quick": True}),
    "squeezenet": (tv("squeezenet1_1"), [(1, 3, 224, 224)], {"quick": True}),
    "efficientnet_b0": (tv("efficientnet_b0"), [(1, 3, 224, 224)], {}),
    "densenet121": (tv("densenet121"), [(1, 3, 224, 224)], {}),
    "shufflenet_v2": (tv("shufflenet_v2_x1_0"), [(1, 3, 224, 224)], {}),
    "vit": (make_vit, [(1, 3, 224, 224)], {}),
    "lstm": (LSTMModel, [(10, 1, 16)], {}),
    "bigru": (BiGRUModel, [(2, 12, 16)], {}),
    "bert": (Bert, [ids((1, 128), 30522), ids((1, 128), 2)],
             {"input_names": ["input_ids", "token_type_ids"],
              "output_names": ["last_hidden_state", "pooler_output"]}),
    # the BERT-style encoder (bert's BERT-base shape) with free batch and sequence dims
    # (tests/python: two sequence lengths through one onnxc.InferenceSession)
    "dyn_bert": (Bert, [ids((1, 32), 30522), ids((1, 32), 2)],
                 {"input_names": ["input_ids", "token_type_ids"],
                  "output_names": ["last_hidden_state", "pooler_output"],
                  "dynamic_axes": {"input_ids": {0: "batch", 1: "sequence"},
                                   "token_type_ids": {0: "batch", 1: "sequence"},
                                   "last_hidden_state": {0: "batch", 1: "sequence"},
                                   "pooler_output": {0: "batch"}},
                  "alt": [ids((2, 48), 30522), ids((2, 48), 2)]}),
    "gpt": (GPT, [ids((1, 64), 8192)], {"input_names": ["input_ids"], "output_names": ["logits"]}),
    "transformer": (Seq2Seq, [(32, 2, 256), (20, 2, 256)],
                    {"input_names": ["src", "tgt"], "output_names": ["out"]}),
    "dyn_cnn": (DynCNN, [(2, 3, 40, 56)],
                {"dynamic_axes": {"input": {0: "batch", 2: "height", 3: "width"},
                                  "output": {0: "batch"}},
                 "alt": [(1, 3, 64, 48)], "quick": True}),
    "dyn_gpt": (lambda: GPT(vocab=512, d=64, heads=4, layers=2), [ids((2, 24), 512)],
                {"input_names": ["input_ids"], "output_names": ["logits"],
                 "dynamic_axes": {"input_ids": {0: "batch", 1: "sequence"},
                                  "logits": {0: "batch", 1: "sequence"}},
                 "alt": [ids((1, 40), 512)], "quick": True}),
    # Benchmark-only models (bench/harness.py): not in `all`; export them by name or with `bench`.
    "lstm256": (lambda: RNN256("LSTM"), [(100, 1, 256)], {"bench": True}),
    "gru256": (lambda: RNN256("GRU"), [(100, 1, 256)], {"bench": True}),
    "convnext_t": (tv("convnext_tiny"), [(1, 3, 224, 224)], {"bench": True}),
    "vit_b16": (make_vit_b16, [(1, 3, 224, 224)], {"bench": True}),
    "resnet50_b8": (tv("resnet50"), [(8, 3, 224, 224)], {"bench": True}),
    "bert_b8": (Bert, [ids((8, 128), 30522), ids((8, 128), 2)],
                {"input_names": ["input_ids", "token_type_ids"],
                 "output_names": ["last_hidden_state", "pooler_output"], "bench": True}),
}


# ---------------------------------------------------------------- export

def model_stamp(name):
    """Hash of what defines model NAME's export: torch version, its MODELS entry, the source of its
    constructor (and of what a tv() closure captured) and of export() itself. Editing one model
    re-exports only that model."""
    import inspect
    ctor, shapes, opts = MODELS[name]
    h = hashlib.sha256()
    h.update(torch.__version__.encode())
    h.update(repr((shapes, sorted((k, v) for k, v in opts.items() if k != "quick"))).encode())
    for fn in (ctor, export):
        try:
            h.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):
            h.update(repr(fn).encode())
        for c in getattr(fn, "__closure__", None) or ():
            h.update(repr(c.cell_contents).encode())
    if isinstance(ctor, type):
        for k in ctor.__mro__:
            if k.__module__ == __name__:
                h.update(inspect.getsource(k).encode())
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


def make_inputs(rng, shapes):
    return [rng.randint(0, s[2], size=s[1]).astype(np.int64) if s and s[0] == "int64"
            else rng.standard_normal(s).astype(np.float32) for s in shapes]


def calibrate_batchnorm(model, inputs):
    """Sets every BatchNorm's running stats to its statistics on INPUTS. With torchvision's init
    (unit scale, stats 0/1) activations drift through deep nets (EfficientNet's logits are ~1e-20),
    which makes a comparison meaningless; calibrated, they stay O(1), as with trained weights."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one pass, exactly this batch's stats
        m.train()
    run_torch(model, inputs)
    model.eval()


def run_torch(model, inputs):
    with torch.no_grad():
        out = model(*(torch.from_numpy(a) for a in inputs))
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o.detach().cpu().numpy() for o in outs]


def export(name, outdir, force=False):
    import onnx
    from onnx import numpy_helper

    ctor, shapes, opts = MODELS[name]
    d = os.path.join(outdir, name)
    stamp = model_stamp(name)
    stamp_path = os.path.join(d, ".stamp")
    if not force and os.path.exists(stamp_path):
        with open(stamp_path) as f:
            lines = f.read().split()
        if lines and lines[0] == stamp:
            n_out = int(lines[1]) if len(lines) > 1 else 1
            if all(os.path.exists(p) for p in expected_files(d, len(shapes), n_out)):
                print("%-16s up to date (%s)" % (name, d))
                return
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)

    t0 = time.time()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    model = ctor().eval()
    rng = np.random.RandomState(SEED)
    inputs = make_inputs(rng, shapes)
    calibrate_batchnorm(model, make_inputs(np.random.RandomState(SEED + 1), shapes))
    tin = tuple(torch.from_numpy(a) for a in inputs)
    outs = run_torch(model, inputs)

    in_names = io_names(len(inputs), opts, "input_names", "input", "input")
    out_names = io_names(len(outs), opts, "output_names", "output", "output")
    model_path = os.path.join(d, "model.onnx")
    # Not under no_grad: in eval mode without grad, nn.TransformerEncoderLayer / MultiheadAttention
    # take a fused fast path (aten::_transformer_encoder_layer_fwd) that torch.onnx cannot export.
    torch.onnx.export(model, tin, model_path,
                      input_names=in_names, output_names=out_names,
                      opset_version=opts.get("opset", OPSET),
                      dynamic_axes=opts.get("dynamic_axes"),
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
    alt = make_inputs(rng, opts.get("alt", []))
    for i, a in enumerate(alt):
        np.save(os.path.join(d, "input_alt_%d.npy" % i), a)
    for i, a in enumerate(run_torch(model, alt) if alt else []):
        np.save(os.path.join(d, "expected_alt_%d.npy" % i), np.ascontiguousarray(a))
    with open(stamp_path, "w") as f:
        f.write("%s %d\n" % (stamp, len(outs)))
    print("%-16s exported in %.1fs -> %s (inputs %s, outputs %s)" % (
        name, time.time() - t0, d,
        [a.shape for a in inputs], [a.shape for a in outs]))


def select(args):
    """Model names from the command line: `all`, `quick` or names (none = all)."""
    names = []
    for a in args or ["all"]:
        if a == "all":
            names += [n for n, m in MODELS.items() if not m[2].get("bench")]
        elif a == "bench":
            names += [n for n, m in MODELS.items() if m[2].get("bench")]
        elif a == "quick":
            names += [n for n, m in MODELS.items() if m[2].get("quick")]
        else:
            names.append(a)
    return list(dict.fromkeys(names))


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    force = "--force" in argv
    if not args or "-h" in argv or "--help" in argv:
        print(__doc__.strip())
        print("\nmodels: " + " ".join(MODELS))
        return 0 if args or "-h" in argv or "--help" in argv else 2
    outdir, names = args[0], select(args[1:])
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print("unknown model(s): %s; known: %s" % (" ".join(unknown), " ".join(MODELS)),
              file=sys.stderr)
        return 2
    if "--verbose" not in argv:
        # torch.onnx's LSTM/shape-inference UserWarnings are noise here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for n in names:
        export(n, outdir, force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
