import time


def wait_for_job(job, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.3)
    raise AssertionError(f"Job {job.pk} did not finish in {timeout}s: {job.status} {job.progress}% {job.message}")
