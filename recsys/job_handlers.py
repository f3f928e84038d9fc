"""Job kinds of the recsys app: each calls one service."""

from . import jobs
from .services import imports


@jobs.register("import_dataset", queue="default")
def import_dataset(job, progress):
    params = job.params
    dataset = imports.import_dataset(
        name=params["name"],
        path=params["path"],
        format=params.get("format") or None,
        title=params.get("title", ""),
        progress=progress,
    )
    return {
        "dataset": dataset.name,
        "users": dataset.n_users,
        "items": dataset.n_items,
        "interactions": dataset.n_interactions,
    }
