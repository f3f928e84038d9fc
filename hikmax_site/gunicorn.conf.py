"""gunicorn settings shared by bin/demo, docker-compose and benchmarks/load.py."""

import logging
import os

# Sized for the CPU: a cached member page costs ~11 ms of CPU in the worker and waits ~9 times on
# PostgreSQL and Redis (docs/benchmarks.md); one process per core plus one keeps the cores busy while a
# worker waits, and 2 threads a worker overlap those waits (more threads only contend for the GIL). Each
# worker holds its own copy of the active models (TensorFlow), so more workers cost memory.
# WEB_CONCURRENCY / GUNICORN_THREADS override (set WEB_CONCURRENCY in a container with a CPU quota:
# os.cpu_count() sees the host's cores).
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 2))


def post_worker_init(worker):
    # Imported here, once the worker has forked: gunicorn reads this file before Django is set up.
    # Loading the active models before the first request spares it TensorFlow's seconds-long start-up.
    from recourse.warmup import warm_up_explanations
    from recsys.services.serving import warm_up_recommenders

    try:
        warmed = warm_up_recommenders()
        warm_up_explanations()
    except Exception:  # a broken artefact must not stop the site from serving other pages
        logging.getLogger(__name__).exception("Model warm-up failed")
    else:
        logging.getLogger(__name__).info("Warmed up: %s", ", ".join(warmed) or "no active model")

# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl), so a second checkout's demo
# on the same machine would take over the first one's; nothing here uses the control interface.
control_socket_disable = True
