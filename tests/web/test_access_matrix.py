"""Who may use which route: every route of the URL conf × anonymous, member, other member, staff, admin.

The routes are read from the URL conf, so a new route without a rule in RULES fails
`test_every_route_has_an_access_rule`. Rules:
  public  anyone;
  member  any signed-in account (anonymous: sent to sign in, or 403 from the API);
  own     like member, on an object of the member's: another member gets 404 (or 403);
  staff   analysts and administrators (members: 403); on a missing object ("missing") the access check
          still comes first, so the refusals are tested without building the object;
  superuser  administrators only (analysts too are refused);
  admin   Django's admin site: staff with permissions (anyone else: sent to the admin sign-in).
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from recourse.models import DriftAlert, Experiment, Explanation, NeverFlag, RecourseResult
from recsys.models import Job, NotInterested, TrainedModel

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "member", "other", "staff", "admin")


@dataclass(frozen=True)
class Rule:
    access: str  # public, member, own, staff, superuser, admin
    method: str = "get"
    args: tuple[str, ...] = ()  # names of World objects whose pk fill the route's arguments


G, P = "get", "post"
RULES = {
    "landing": Rule("public"),
    "favicon": Rule("public"),
    "signup": Rule("public"),
    "login": Rule("public"),
    "logout": Rule("public", P),
    "password_change": Rule("member"),
    "password_change_done": Rule("member"),
    "profile": Rule("member"),
    "export-json": Rule("member"),
    "export-csv": Rule("member"),
    "erase": Rule("member"),
    "recsys:home": Rule("member"),
    "recsys:choose-dataset": Rule("member", P),
    "recsys:catalogue": Rule("member"),
    "recsys:add-to-history": Rule("member", P, ("item",)),
    "recsys:jobs": Rule("staff"),
    "recsys:job-status": Rule("staff"),
    "recsys:job-retry": Rule("staff", P, ("job",)),
    "recsys:job-cancel": Rule("staff", P, ("job",)),
    "recourse:for-you": Rule("member"),
    "recourse:why": Rule("member", G, ("item",)),
    "recourse:drift": Rule("member"),
    "recourse:fix": Rule("member"),
    "recourse:apply-fix": Rule("member", P),
    "recourse:corrections": Rule("member"),
    "recourse:undo": Rule("own", P, ("correction",)),
    "recourse:remove-interaction": Rule("own", P, ("interaction",)),
    "recourse:add-back-interaction": Rule("own", P, ("interaction",)),
    "recourse:not-interested": Rule("member", P, ("item",)),
    "recourse:undo-not-interested": Rule("own", P, ("signal",)),
    "recourse:feedback": Rule("own", P, ("explanation",)),
    "recourse:dismiss-alert": Rule("own", P, ("alert",)),
    "recourse:never-flag": Rule("own", P, ("interaction",)),
    "recourse:undo-never-flag": Rule("own", P, ("never_flag",)),
    "dashboard:index": Rule("staff"),
    "dashboard:overview": Rule("staff"),
    "dashboard:registry": Rule("staff"),
    "dashboard:activate": Rule("staff", P, ("model",)),
    "dashboard:train": Rule("staff", P),
    "dashboard:comparison": Rule("staff"),
    "dashboard:recommendations": Rule("staff"),
    "dashboard:drift": Rule("staff"),
    "dashboard:xai": Rule("staff"),
    "dashboard:recourse": Rule("staff"),
    "dashboard:metrics": Rule("staff"),
    "dashboard:start-experiment": Rule("staff", P),
    "dashboard:export": Rule("staff", G, ("experiment", "json")),
    "dashboard:summary": Rule("staff"),
    "dashboard:summary-download": Rule("staff"),
    "dashboard:feedback": Rule("staff"),
    "dashboard:api-overview": Rule("staff"),
    "dashboard:api-experiments": Rule("staff"),
    "dashboard:api-experiment": Rule("staff", G, ("experiment",)),
    "dashboard:api-feedback": Rule("staff"),
    "api-history": Rule("member"),
    "api-recommendations": Rule("member"),
    "api-explain": Rule("member", G, ("item",)),
    "api-explanation": Rule("own", G, ("explanation",)),
    "api-drift-check": Rule("member"),
    "api-recourse-list": Rule("member"),
    "api-recourse-preview": Rule("member", P),
    "api-recourse-apply": Rule("member", P),
    "api-recourse-undo": Rule("own", P, ("correction",)),
    "api-schema": Rule("public"),
    "api-docs": Rule("public"),
    "diagnostics:runs": Rule("staff"),
    "diagnostics:start": Rule("staff", P),
    "diagnostics:run": Rule("staff", G, ("missing",)),
    "diagnostics:cancel": Rule("staff", P, ("missing",)),
    "diagnostics:resume": Rule("staff", P, ("missing",)),
    "diagnostics:export": Rule("staff", G, ("missing", "json")),
    "diagnostics:entity": Rule("staff", G, ("missing", "user", "json")),
    "diagnostics:exclusions": Rule("staff"),
    "diagnostics:exclude": Rule("superuser", P),
    "diagnostics:lift": Rule("superuser", P, ("missing",)),
    "forecast:emerging": Rule("staff"),
    "forecast:train": Rule("staff", P),
    "forecast:activate": Rule("staff", P, ("missing",)),
    "forecast:title": Rule("staff", G, ("missing", "item")),
    "forecast:audit": Rule("staff", G, ("missing",)),
    "forecast:sensitivity": Rule("staff", G, ("missing",)),
    "forecast:card": Rule("staff", G, ("missing",)),
    "forecast:card-download": Rule("staff", G, ("missing",)),
    "admin": Rule("admin"),
}


def routes(patterns=None, namespace=None):
    """(name, route) of every route; Django's admin site counts as one route, "admin"."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                yield "admin", str(pattern.pattern)
                continue
            inner = pattern.namespace or namespace
            yield from routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}:{pattern.name}" if namespace else str(pattern.name)), str(pattern.pattern)


def test_every_route_has_an_access_rule():
    found = dict(routes())
    missing = sorted(set(found) - set(RULES))
    assert not missing, f"Routes without an access rule in {__file__}: {missing}"
    assert not sorted(set(RULES) - set(found)), "Rules for routes that no longer exist"


@pytest.fixture
def world(make_user):
    users = {"member": make_user("alice"), "other": make_user("bob"), "staff": make_user("ana", is_staff=True)}
    users["admin"] = make_user("root", is_staff=True, is_superuser=True)
    dataset = make_dataset()
    sequence = make_history(dataset, user=users["member"], external_user_id="alice", item_ids=(1, 2, 3))
    make_history(dataset, user=users["other"], external_user_id="bob", item_ids=(4, 5))
    interaction = sequence.interactions.order_by("position").first()
    model = TrainedModel.objects.create(dataset=dataset, architecture="sasrec")
    correction = RecourseResult.objects.create(
        user=users["member"], sequence=sequence, changes=[
            {"interaction_id": interaction.pk, "title": interaction.item.title,
             "before": {"state": "active", "weight": 1.0}, "after": {"state": "active", "weight": 1.0}}])
    explanation = Explanation.objects.create(user=users["member"], trained_model=model, target_item=interaction.item,
                                             method="ig", history_fingerprint="x")
    objects = {"item": dataset.items.first().pk, "interaction": interaction.pk, "correction": correction.pk,
               "explanation": explanation.pk, "model": model.pk, "json": "json", "user": "user",
               "missing": 987654,
               "signal": NotInterested.objects.create(user=users["member"], item=interaction.item).pk,
               "job": Job.objects.create(kind="import_dataset", status="failed").pk,
               "experiment": Experiment.objects.create(name="e", dataset=dataset, trained_model=model).pk,
               "alert": DriftAlert.objects.create(user=users["member"], dataset=dataset,
                                                  flagged_interaction_ids=[interaction.pk]).pk,
               "never_flag": NeverFlag.objects.create(user=users["member"], interaction=interaction).pk}
    return users, objects


def _url(name, route, rule, objects):
    if name == "admin":
        return "/" + route
    return reverse(name, args=[objects[key] for key in rule.args])


def _denied(response, role) -> bool:
    if response.status_code in (401, 403):
        return True
    location = response.get("Location", "") if response.status_code == 302 else ""
    return "/login/" in location


def _expected(rule: Rule, role: str) -> str:
    """'allow', 'deny' or 'hide' (404/403 for another member's object)."""
    if rule.access == "public":
        return "allow"
    if role == "anonymous":
        return "deny"
    if rule.access == "admin":
        return "allow" if role in ("staff", "admin") else "deny"
    if rule.access == "staff":
        return "allow" if role in ("staff", "admin") else "deny"
    if rule.access == "superuser":
        return "allow" if role == "admin" else "deny"
    if rule.access == "own" and role != "member":
        return "hide"
    return "allow"


def test_access_matrix(world):
    users, objects = world
    wrong = []
    cells = 0
    for name, route in routes():
        rule = RULES[name]
        url = _url(name, route, rule, objects)
        for role in ROLES:
            client = Client()
            if role != "anonymous":
                client.force_login(users[role])
            response = getattr(client, rule.method)(url)
            cells += 1
            expected = _expected(rule, role)
            status = response.status_code
            if status >= 500:
                wrong.append(f"{role:9} {rule.method.upper()} {url}: {status}")
            elif expected == "allow" and _denied(response, role):
                wrong.append(f"{role:9} {rule.method.upper()} {url}: refused ({status}), expected allowed")
            elif expected == "deny" and not _denied(response, role):
                wrong.append(f"{role:9} {rule.method.upper()} {url}: {status}, expected refused")
            elif expected == "hide" and status not in (403, 404):
                wrong.append(f"{role:9} {rule.method.upper()} {url}: {status}, expected 404 (not theirs)")
    assert cells == len(RULES) * len(ROLES)
    assert not wrong, "\n".join(wrong)
