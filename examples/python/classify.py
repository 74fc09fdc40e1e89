#!/usr/bin/python3
"""classify.py — classify an image with ResNet-18 through onnxc.InferenceSession, the script one
would write for onnxruntime with `import onnxc as ort` in place of `import onnxruntime as ort`.

  python3 classify.py RESNET18.onnx IMAGE [--top K] [--threads N]

RESNET18.onnx: a torchvision ResNet-18 exported to ONNX (input 1x3x224x224, ImageNet-normalized
RGB), e.g. torch.onnx.export(torchvision.models.resnet18(weights="DEFAULT"), torch.zeros(1, 3,
224, 224), "resnet18.onnx").  IMAGE: any file PIL reads (or a 1x3x224x224 float32 .npy already
preprocessed).  Prints the top K classes with their probabilities (ImageNet names when
torchvision is installed: it ships the list, nothing is downloaded)."""
import argparse

import numpy as np

import onnxc as ort

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def preprocess(path):
    """resize the short side to 256, crop the centre 224x224, scale to [0, 1], normalize, NCHW"""
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32)
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    x = np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1)[None].copy()


def labels():
    try:
        from torchvision.models import ResNet18_Weights
        return ResNet18_Weights.DEFAULT.meta["categories"]
    except Exception:  # torchvision missing: class indices only
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(a.model, sess_options=so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    logits = sess.run(None, {inp.name: preprocess(a.image)})[0][0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    names = labels()
    for k in np.argsort(-p)[:a.top]:
        print(f"{p[k]:.4f}  {k:4d}  {names[k] if names and k < len(names) else ''}".rstrip())


if __name__ == "__main__":
    main()
