"""Job kinds of the recourse app: each calls one service."""

from recsys import jobs
from recsys.models import Dataset

from .services import explanations


@jobs.register("explain_members", queue="xai")
def explain_members(job, progress):
    dataset = Dataset.objects.get(pk=job.params["dataset_id"])
    return explanations.explain_members(dataset=dataset, top_k=job.params.get("top_k", 3), progress=progress)
