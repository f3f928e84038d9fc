"""Proactive drift alerts (issue 19, item 5): new interactions trigger a background drift check of the member.

Flow: ``recsys.signals.interactions_added`` (the API, the catalogue page, a dataset import) -> ``note_arrivals``
counts the arrival on the member's DriftWatch and queues one ``drift_alerts`` job per dataset on the xai queue,
started ARRIVAL_SETTLE_SECONDS later so a burst of arrivals is checked once. The job (``check_due``) re-scores
every member of the dataset with unchecked arrivals whose last check is older than the rate limit
(ALERT_MINUTES) with ``drift.check_drift``, and keeps at most one open DriftAlert per member and dataset:

- drift with flagged interactions: the open alert is updated, else one is raised unless every flagged
  interaction was already named by an alert the member dismissed (a dismissal is remembered);
- no drift: an open alert is closed (the recommendations came back).

Members still waiting (rate-limited, or arriving while the job ran) are picked up by ``sweep`` (Celery beat).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from recourse import selectors
from recourse.models import DriftAlert, DriftWatch, NeverFlag
from recsys import jobs
from recsys.models import Dataset, Job
from recsys.services import serving

from . import drift, never_flag
from .context import DriftUnavailable

log = logging.getLogger(__name__)

JOB_KIND = "drift_alerts"
# A check still queued this long after its delay lost its broker message (a worker holding it died): replaced.
# Generous, because a check may wait behind long xai jobs (experiments) and a replacement would wait too.
LOST_AFTER_SECONDS = 20 * 60
CAME_BACK = "A later check found your recommendations back on your usual taste."
ALL_MUTED = "You asked HikmaX not to flag what it named."


def alert_minutes() -> float:
    """At most one check per member per this many minutes."""
    return float(settings.HIKMAX["DRIFT_ALERT_MINUTES"])


def settle_seconds() -> float:
    """A check starts this long after the first arrival, so the rest of a burst is checked with it."""
    return float(settings.HIKMAX["DRIFT_ALERT_SETTLE_SECONDS"])


# --- arrivals and scheduling -------------------------------------------------------------------------


def note_arrivals(*, dataset: Dataset, user_ids) -> Job | None:
    """Count new interactions of these members and queue (or join) the dataset's check."""
    user_ids = sorted({int(pk) for pk in user_ids})
    if not user_ids:
        return None
    now = timezone.now()
    DriftWatch.objects.bulk_create([DriftWatch(user_id=pk, dataset=dataset) for pk in user_ids],
                                   ignore_conflicts=True)
    DriftWatch.objects.filter(dataset=dataset, user_id__in=user_ids).update(
        arrivals=F("arrivals") + 1, pending_since=Coalesce(F("pending_since"), Value(now)))
    return schedule(dataset)


def schedule(dataset: Dataset, countdown: float | None = None) -> Job:
    """The dataset's queued or running check, or a new one (one at a time per dataset)."""
    delay = settle_seconds() if countdown is None else countdown
    return jobs.start_job(kind=JOB_KIND, params={"dataset_id": dataset.pk}, countdown=delay)


def sweep() -> list[int]:
    """Queue checks for datasets with members due again (beat); replace a check whose message was lost."""
    now = timezone.now()
    due = selectors.datasets_with_due_watches(now - timedelta(minutes=alert_minutes()))
    lost_before = now - timedelta(seconds=settle_seconds() + LOST_AFTER_SECONDS)
    started = []
    for dataset in Dataset.objects.filter(pk__in=due):
        job = schedule(dataset, countdown=0)
        if job.duplicate and job.status == Job.Status.QUEUED and job.created_at < lost_before:
            jobs.cancel_job(job)  # queued far longer than its delay: its broker message is gone
            job = schedule(dataset, countdown=0)
        started.append(job.pk)
    return started


# --- the batch check -----------------------------------------------------------------------------------


def check_due(*, dataset: Dataset, progress=None) -> dict:
    """Re-score the dataset's members with unchecked arrivals whose rate limit allows it."""
    started = time.perf_counter()
    watches = list(selectors.due_drift_watches(dataset, timezone.now() - timedelta(minutes=alert_minutes())))
    outcomes: dict[str, int] = {}
    for n, watch in enumerate(watches):
        if progress is not None:
            progress(100 * n / len(watches), f"Checking member {n + 1} of {len(watches)}")
        outcome = check_member(watch)
        key = outcome.split(":")[0] if outcome.startswith(("unavailable", "error")) else outcome  # no messages
        outcomes[key] = outcomes.get(key, 0) + 1
    seconds = time.perf_counter() - started
    waiting = DriftWatch.objects.filter(dataset=dataset, arrivals__gt=F("checked_arrivals")).count()
    return {"members": len(watches), "seconds": round(seconds, 3),
            "members_per_second": round(len(watches) / seconds, 2) if watches and seconds > 0 else None,
            "outcomes": outcomes, "still_waiting": waiting}


def check_member(watch: DriftWatch) -> str:
    """One member's check; records what it found on the watch and returns it."""
    seen, now = watch.arrivals, timezone.now()
    covered = True
    try:
        check = drift.check_drift(user=watch.user, dataset=watch.dataset)
    except (DriftUnavailable, serving.NoActiveModel) as exc:
        outcome = f"unavailable: {exc}"
        covered = not _calibrating(watch.dataset)  # being calibrated: check these arrivals again later
    except Exception as exc:  # one member's failure must not stop the others; retried after the rate limit
        log.exception("Drift alert check of %s failed", watch.user)
        outcome, covered = f"error: {type(exc).__name__}: {exc}", False
    else:
        outcome = record(check, user=watch.user, dataset=watch.dataset)
    fields = {"last_checked_at": now, "last_outcome": outcome[:300]}
    if covered:
        DriftWatch.objects.filter(pk=watch.pk).update(checked_arrivals=seen, **fields)
        DriftWatch.objects.filter(pk=watch.pk, arrivals=seen).update(pending_since=None)
    else:
        DriftWatch.objects.filter(pk=watch.pk).update(**fields)
    return outcome


def _calibrating(dataset: Dataset) -> bool:
    return Job.objects.filter(kind="calibrate_drift", status__in=Job.ACTIVE,
                              params__model_id__in=list(dataset.models.values_list("pk", flat=True))).exists()


def record(check, *, user, dataset: Dataset) -> str:
    """Turn a drift check into the member's alert state; returns what happened."""
    flagged = [row.pk for row in check.flagged]
    with transaction.atomic():
        alert = (DriftAlert.objects.select_for_update().filter(
            user=user, dataset=dataset, dismissed_at__isnull=True, closed_at__isnull=True).first())
        if not (check.result.drift and flagged):
            if alert is None:
                return "no drift"
            _close(alert, CAME_BACK)
            return "no drift: alert closed"
        if alert is not None:
            alert.flagged_interaction_ids, alert.narrative, alert.drift_result = flagged, check.narrative, check.result
            alert.save(update_fields=["flagged_interaction_ids", "narrative", "drift_result", "updated_at"])
            return "drift: alert updated"
        if set(flagged) <= selectors.dismissed_flagged_ids(user, dataset):
            return "drift: already dismissed"
        try:
            with transaction.atomic():
                DriftAlert.objects.create(user=user, dataset=dataset, drift_result=check.result,
                                          flagged_interaction_ids=flagged, narrative=check.narrative)
        except IntegrityError:  # raised meanwhile by another check
            return "drift: alert already open"
    return "drift: alert raised"


def _close(alert: DriftAlert, reason: str) -> None:
    alert.closed_at, alert.closed_reason = timezone.now(), reason
    alert.save(update_fields=["closed_at", "closed_reason", "updated_at"])


# --- the member's choices ------------------------------------------------------------------------------


def dismiss(*, user, alert_id: int) -> DriftAlert:
    """Hide the member's alert for good; its interactions are not alerted about again."""
    alert = DriftAlert.objects.filter(pk=alert_id, user=user).first()
    if alert is None:
        raise DriftAlert.DoesNotExist("No such alert.")
    if alert.dismissed_at is None:
        # Remember what the notice named: the member's own later check when they ran one (open_drift_alert), which
        # the background check's list alone would not cover, so a later check naming it would raise it again.
        notice = selectors.open_drift_alert(user, alert.dataset)
        shown = [row.pk for row in notice.flagged] if notice is not None and notice.alert.pk == alert.pk else []
        alert.flagged_interaction_ids = list(dict.fromkeys([*alert.flagged_interaction_ids, *shown]))
        alert.dismissed_at = timezone.now()
        alert.save(update_fields=["dismissed_at", "flagged_interaction_ids", "updated_at"])
    return alert


def never_flag_interaction(*, user, interaction_id: int) -> NeverFlag:
    """"Don't flag this again": recorded, and the open alert stops naming it (closed when nothing is left)."""
    flag = never_flag.never_flag(user=user, interaction_id=interaction_id)
    dataset_id = flag.interaction.sequence.dataset_id
    with transaction.atomic():
        alert = (DriftAlert.objects.select_for_update().filter(
            user=user, dataset_id=dataset_id, dismissed_at__isnull=True, closed_at__isnull=True).first())
        if alert is not None and interaction_id in alert.flagged_interaction_ids:
            alert.flagged_interaction_ids = [pk for pk in alert.flagged_interaction_ids if pk != interaction_id]
            alert.save(update_fields=["flagged_interaction_ids", "updated_at"])
            if not alert.flagged_interaction_ids:
                _close(alert, ALL_MUTED)
    return flag


def undo_never_flag(*, user, flag_id: int) -> NeverFlag:
    """Undo "Don't flag this again"; the member's next background check may flag it again."""
    flag = never_flag.undo(user=user, flag_id=flag_id)
    note_arrivals(dataset=flag.interaction.sequence.dataset, user_ids=[user.pk])
    return flag
