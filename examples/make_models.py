#!/usr/bin/python3
"""make_models.py — small torch models for the AOT tests and examples (random seeded weights).

  make_models.py OUTDIR [lstm] [encoder]

Writes OUTDIR/NAME/model.onnx and OUTDIR/NAME/input_K.npy.
- lstm: a 2-layer LSTM written from primitives (Linear, sigmoid, tanh) and unrolled over 12 time
  steps by tracing — the ONNX LSTM op itself is implemented on another branch.
- encoder: a BERT-style encoder: token + position embeddings (Gather), 2 layers of multi-head
  self-attention (4 heads) and GELU feed-forward, each with residual + LayerNorm; then a pooled
  classifier head."""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn


class LSTMCell(nn.Module):
    def __init__(self, d_in, d_h):
        super().__init__()
        self.x2g = nn.Linear(d_in, 4 * d_h)
        self.h2g = nn.Linear(d_h, 4 * d_h, bias=False)
        self.d_h = d_h

    def forward(self, x, h, c):
        g = self.x2g(x) + self.h2g(h)
        i, f, o, u = torch.split(g, self.d_h, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(u)
        return torch.sigmoid(o) * torch.tanh(c), c


class UnrolledLSTM(nn.Module):
    """x: (T, 1, 16) -> logits (1, 5) and the last layer's hidden states (T, 1, 32)"""

    def __init__(self, d_in=16, d_h=32, layers=2, n_out=5):
        super().__init__()
        self.cells = nn.ModuleList([LSTMCell(d_in if k == 0 else d_h, d_h) for k in range(layers)])
        self.head = nn.Linear(d_h, n_out)
        self.d_h = d_h

    def forward(self, x):
        seq = [x[t] for t in range(x.shape[0])]
        for cell in self.cells:
            h = torch.zeros(1, self.d_h)
            c = torch.zeros(1, self.d_h)
            out = []
            for xt in seq:
                h, c = cell(xt, h, c)
                out.append(h)
            seq = out
        return self.head(seq[-1]), torch.stack(seq)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, d_ff)
        self.ff2 = nn.Linear(d_ff, d)
        self.ln2 = nn.LayerNorm(d)
        self.heads = heads

    def forward(self, x):  # x: (1, S, d)
        s, d = x.shape[1], x.shape[2]
        hd = d // self.heads
        q, k, v = self.qkv(x).reshape(1, s, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(1, s, d)
        x = self.ln1(x + self.proj(y))
        return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x))))


class Encoder(nn.Module):
    def __init__(self, vocab=100, seq=16, d=64, heads=4, d_ff=128, layers=2, n_out=3):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, seq, d) * 0.1)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, d_ff) for _ in range(layers)])
        self.head = nn.Linear(d, n_out)

    def forward(self, ids):  # ids: (1, S) int64
        x = self.tok(ids) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(dim=1)), x


def export(name, outdir):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if name == "lstm":
        model, x = UnrolledLSTM(), rng.standard_normal((12, 1, 16)).astype(np.float32)
        names = (["x"], ["logits", "hidden"])
    elif name == "encoder":
        model, x = Encoder(), rng.integers(0, 100, (1, 16)).astype(np.int64)
        names = (["ids"], ["logits", "states"])
    else:
        raise SystemExit("unknown model " + name)
    model.eval()
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(x),), os.path.join(d, "model.onnx"), opset_version=17,
                          input_names=names[0], output_names=names[1])
    np.save(os.path.join(d, "input_0.npy"), x)
    print("%s -> %s" % (name, d))


if __name__ == "__main__":
    for n in sys.argv[2:] or ["lstm", "encoder"]:
        export(n, sys.argv[1])
