"""Reads of the forecast app: the forecaster's input from the catalogue, and what the pages show."""

import pandas as pd
from django.db.models import QuerySet

from forecast.engine import ForecastInput
from forecast.models import EmergingTitle, Forecaster
from recsys.models import Dataset, Interaction, Item, ItemTag, Job

TRAIN_JOB = "train_forecaster"


def forecast_input(dataset: Dataset) -> ForecastInput:
    """Ratings (user = history id, item = Item id), the catalogue and the tags of one dataset.
    Excluded interactions (removed by their member) are left out."""
    ratings = pd.DataFrame.from_records(
        Interaction.objects.active().filter(sequence__dataset=dataset)
        .values_list("sequence_id", "item_id", "rating", "timestamp")
        .iterator(chunk_size=20_000),
        columns=["user_id", "item_id", "rating", "timestamp"],
    )
    items = pd.DataFrame.from_records(
        Item.objects.filter(dataset=dataset).values_list("id", "title", "year", "categories"),
        columns=["item_id", "title", "year", "genres"],
    )
    items["genres"] = items["genres"].apply(lambda joined: tuple(c for c in joined.split("|") if c))
    tags = pd.DataFrame.from_records(
        ItemTag.objects.filter(item__dataset=dataset).values_list("sequence_id", "item_id", "tag", "timestamp"),
        columns=["user_id", "item_id", "tag", "timestamp"],
    )
    ratings["rating"] = ratings["rating"].astype("float64")
    return ForecastInput(ratings=ratings, items=items, tags=None if tags.empty else tags,
                         has_timestamps=dataset.has_timestamps)


def forecasters_of(dataset: Dataset) -> QuerySet[Forecaster]:
    return Forecaster.objects.filter(dataset=dataset).select_related("created_by")


def shown_forecaster(dataset: Dataset) -> Forecaster | None:
    """The active forecaster, else the newest ready one."""
    ready = Forecaster.objects.filter(dataset=dataset, status=Forecaster.Status.READY)
    return ready.filter(is_active=True).first() or ready.first()


def ranked_titles(forecaster: Forecaster) -> QuerySet[EmergingTitle]:
    return forecaster.titles.select_related("item").order_by("rank")


def unfinished_training_jobs(dataset: Dataset) -> QuerySet[Job]:
    return Job.objects.filter(kind=TRAIN_JOB, params__dataset_id=dataset.pk).exclude(status__in=Job.FINISHED)


# ---------------------------------------------------------------- account export (accounts.personal_data)

EXPORTED_MODELS = {"forecast.Forecaster": "forecasters_trained"}


def export_for_user(user) -> dict:
    forecasters = Forecaster.objects.filter(created_by=user).select_related("dataset").order_by("created_at")
    return {"forecasters_trained": [
        {"dataset": f.dataset.name, "version": f.version, "status": f.status, "active": f.is_active,
         "created_at": f.created_at.isoformat()}
        for f in forecasters
    ]}
