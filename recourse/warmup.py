"""Trace the explanation graphs of every active model, so the first "Why?" of a worker is not slow."""

import logging

from recsys.models import TrainedModel
from recsys.services import serving

from .engine.explanation import trace_explainers
from .services.context import DriftUnavailable, categories_for

log = logging.getLogger(__name__)


def warm_up_explanations() -> None:
    for model in TrainedModel.objects.filter(is_active=True, status=TrainedModel.Status.READY).select_related(
        "dataset"
    ):
        _, recommender = serving.loaded_model(model.dataset)
        try:
            categories = categories_for(model, recommender)
        except DriftUnavailable:
            categories = None
        trace_explainers(recommender.model, categories)
        log.info("Explanations warmed up for %s", model)
