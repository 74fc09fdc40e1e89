"""setup.py — the onnxc Python package (pip install ./python, Debian's setuptools, no network).

The package bundles libonnxc.so and the runtime archives (rt/, for onnxc.compile) from a built
tree: $ONNXC_BUILD, else ../build.  Without a built tree it installs the Python files alone and
finds an installed libonnxc (cmake --install) at import."""
import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithLib(build_py):
    """build_py that copies libonnxc.so and rt/libonnxc_rt*.a into the built package"""

    def run(self):
        super().run()
        tree = os.environ.get("ONNXC_BUILD") or os.path.join(HERE, "..", "build")
        so = os.path.join(tree, "libonnxc.so")
        if not os.path.exists(so):
            print(f"onnxc: no {so}; the package will use an installed libonnxc")
            return
        dest = os.path.join(self.build_lib, "onnxc")
        shutil.copyfile(os.path.realpath(so), os.path.join(dest, "libonnxc.so"))
        os.makedirs(os.path.join(dest, "rt"), exist_ok=True)
        for a in glob.glob(os.path.join(tree, "rt", "libonnxc_rt*.a")):
            shutil.copyfile(a, os.path.join(dest, "rt", os.path.basename(a)))


setup(
    name="onnxc",
    version="0.1.0",
    description="ONNX models compiled to native code, with ONNX Runtime's InferenceSession API",
    packages=["onnxc"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildWithLib},
    zip_safe=False,
)
