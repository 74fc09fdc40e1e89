#!/usr/bin/python3
"""make_model.py — regenerates the bundled example: a small CNN (28x28 grey image → 10 classes)
with fixed random weights, its input and torch's output.  Run with Debian's /usr/bin/python3."""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 16, 3, padding=1)
        self.b1 = torch.nn.BatchNorm2d(16)
        self.c2 = torch.nn.Conv2d(16, 32, 3, padding=1)
        self.fc = torch.nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.b1(self.c1(x))), 2)
        x = torch.nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


def main():
    torch.manual_seed(7)
    m = SmallCNN().eval()
    x = torch.from_numpy(np.random.default_rng(7).random((1, 1, 28, 28), dtype=np.float32))
    with torch.no_grad():
        y = m(x)
    torch.onnx.export(m, x, os.path.join(HERE, "model.onnx"), input_names=["image"], output_names=["probs"],
                      opset_version=13)
    np.save(os.path.join(HERE, "input.npy"), x.numpy())
    np.save(os.path.join(HERE, "expected.npy"), y.numpy())


if __name__ == "__main__":
    main()
