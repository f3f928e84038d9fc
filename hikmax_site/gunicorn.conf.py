"""gunicorn settings shared by bin/demo and docker-compose."""

import logging


def post_worker_init(worker):
    # Load the active models before the first request: TensorFlow's start-up takes seconds.
    from recourse.warmup import warm_up as warm_up_explanations
    from recsys.services.serving import warm_up

    try:
        warmed = warm_up()
        warm_up_explanations()
    except Exception:  # a broken artefact must not stop the site from serving other pages
        logging.getLogger(__name__).exception("Model warm-up failed")
    else:
        logging.getLogger(__name__).info("Warmed up: %s", ", ".join(warmed) or "no active model")
