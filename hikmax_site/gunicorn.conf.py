"""gunicorn settings shared by bin/demo and docker-compose."""

import logging


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
