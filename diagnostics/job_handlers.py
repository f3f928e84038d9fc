"""The diagnostic run's parent job: fans its retrains out to the training queue, or runs them in-process."""

from recsys import jobs

from . import services
from .models import DiagnosticRun


@jobs.register(services.JOB_KIND, queue="default")
def deletion_diagnostics(job, progress):
    run = DiagnosticRun.objects.get(pk=job.params["run_id"])
    if job.params.get("inline"):
        return services.run_inline(run, progress)
    services.dispatch(run)
    return jobs.FANNED_OUT
