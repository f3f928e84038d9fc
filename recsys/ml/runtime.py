"""TensorFlow process settings for small CPU machines."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_configured = False


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_tensorflow(threads: int | None = None) -> None:
    """One intra-op thread per core; must run before TensorFlow starts its runtime."""
    global _configured
    if _configured:
        return
    import tensorflow as tf  # here: available_cores() serves callers that never start TensorFlow

    threads = threads or int(os.environ.get("HIKMAX_TF_THREADS", available_cores()))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        pass  # the runtime is already running (e.g. another module configured it)
    _configured = True


def device_description() -> str:
    import tensorflow as tf  # here, like configure_tensorflow

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({len(gpus)} device{'s' if len(gpus) > 1 else ''})"
    return f"CPU ({available_cores()} cores)"
