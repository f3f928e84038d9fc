import time


def wait_for_job(job, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.3)
    raise AssertionError(f"Job {job.pk} did not finish in {timeout}s: {job.status} {job.progress}% {job.message}")


def write_ml100k_folder(folder, *, title, rating) -> list:
    """A small ML-100K-format folder of something other than films: 26 users with 8 of 30 items each, no genres.
    ``title(i)`` names item i; ``rating(user, k)`` is the user's k-th rating. Returns the files, sorted."""
    folder.mkdir()
    rows = [f"{user}\t{(user + k) % 30 + 1}\t{rating(user, k)}\t{880_000_000 + 100 * user + k}"
            for user in range(1, 27) for k in range(8)]
    (folder / "u.data").write_text("\n".join(rows) + "\n")
    (folder / "u.genre").write_text("unknown|0\n")
    (folder / "u.item").write_text("".join(f"{i}|{title(i)}|01-Jan-2001||http://x|1\n" for i in range(1, 31)))
    return sorted(folder.iterdir())
