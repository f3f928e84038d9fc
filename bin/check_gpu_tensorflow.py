"""Is this TensorFlow able to train on a GPU?

    python bin/check_gpu_tensorflow.py --require-gpu   # on a GPU host, in the training image: lists the GPUs
    python bin/check_gpu_tensorflow.py --build-only    # anywhere: the install is a CUDA build with its CUDA wheels

Exit status 0 when the check passes, 1 otherwise.
"""

import argparse
import importlib.metadata
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The CUDA runtime wheels that `tensorflow[and-cuda]` installs; without them TensorFlow silently uses the CPU.
CUDA_WHEELS = ("nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12", "nvidia-cublas-cu12")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-only", action="store_true", help="check the install, not the devices")
    parser.add_argument("--require-gpu", action="store_true", help="fail unless TensorFlow lists a GPU")
    args = parser.parse_args()

    import tensorflow as tf

    build = tf.sysconfig.get_build_info()
    print(f"TensorFlow {tf.__version__}: CUDA build {build.get('is_cuda_build')}, "
          f"CUDA {build.get('cuda_version')}, cuDNN {build.get('cudnn_version')}")
    missing = []
    for wheel in CUDA_WHEELS:
        try:
            print(f"  {wheel} {importlib.metadata.version(wheel)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(wheel)
    ok = bool(build.get("is_cuda_build")) and not missing
    if missing:
        print(f"Missing CUDA wheels: {', '.join(missing)} (install tensorflow[and-cuda])")
    if args.build_only:
        return 0 if ok else 1
    gpus = tf.config.list_physical_devices("GPU")
    print(f"GPUs: {[gpu.name for gpu in gpus] or 'none'}")
    if args.require_gpu and not gpus:
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
