"""For you and Why? are cached per member, model version and history fingerprint (issue 20's load target):
the cache must never show a list, a reason or an explanation of a history the member no longer has."""

import dataclasses
import re

import pytest
from django.test import Client
from django.urls import reverse

from recourse.services import corrections
from recsys.models import Interaction, Item
from recsys.services import history, serving

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["fragments-cached", "lists-only"])
def cached(request, settings, trained, client):
    """The trained world, alice signed in; rendered fragments cached or not (lists and reasons always are)."""
    settings.HIKMAX = {**settings.HIKMAX, "FRAGMENT_CACHE": request.param}
    dataset, model, alice = trained
    client.force_login(alice)
    return dataset, model, alice


def shown(client) -> list[int]:
    response = client.get(reverse("recourse:for-you"))
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'href="/why/(\d+)/"', response.content.decode())]


def truth(alice, dataset) -> list[int]:
    """The model's top 10 for alice's history as it is now, computed without any cache."""
    _, recommender = serving.loaded_model(dataset)
    return [pk for pk, _ in serving._rank(alice, dataset, recommender, n=10, changes=None)["items"]]


def without_tokens(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.fixture
def count_rankings(monkeypatch):
    calls = []
    rank = serving._rank
    monkeypatch.setattr(serving, "_rank", lambda *args, **kwargs: calls.append(1) or rank(*args, **kwargs))
    return calls


def test_a_cached_for_you_list_changes_right_after_not_interested_a_correction_and_undo(
        client, cached, count_rankings):
    dataset, model, alice = cached
    first = shown(client)
    assert first == truth(alice, dataset) and len(first) == 10
    rankings = len(count_rankings)
    assert shown(client) == first
    assert len(count_rankings) == rankings  # the second view was served from the cache

    history.not_interested(user=alice, item=Item.objects.get(pk=first[0]))
    after_hiding = shown(client)
    assert first[0] not in after_hiding
    assert after_hiding == truth(alice, dataset)

    rows = list(Interaction.objects.filter(sequence__user=alice).order_by("pk"))
    preview = corrections.preview(user=alice, dataset=dataset, changes={rows[0].pk: 0.0, rows[1].pk: 0.5})
    result = corrections.apply(user=alice, dataset=dataset, changes=preview.changes, fingerprint=preview.fingerprint)
    after_fix = shown(client)
    assert after_fix == [item.pk for item in preview.top_after] == truth(alice, dataset)  # previewed == applied
    assert rows[0].item_id not in after_fix

    corrections.undo(user=alice, result_id=result.pk)
    assert shown(client) == after_hiding == truth(alice, dataset)


def test_a_cached_explanation_is_not_shown_once_its_item_is_hidden(client, cached):
    dataset, model, alice = cached
    first = shown(client)
    page = client.get(reverse("recourse:why", args=[first[0]]))
    assert page.status_code == 200 and "#1 for you" in page.content.decode()
    assert without_tokens(client.get(reverse("recourse:why", args=[first[0]]))) == without_tokens(page)  # the same

    history.not_interested(user=alice, item=Item.objects.get(pk=first[0]))
    assert client.get(reverse("recourse:why", args=[first[0]])).status_code == 404  # no longer recommended
    second = client.get(reverse("recourse:why", args=[first[1]]))
    assert second.status_code == 200 and "#1 for you" in second.content.decode()


def test_an_edited_title_shows_at_once(client, cached):
    dataset, model, alice = cached
    first = shown(client)
    item = Item.objects.get(pk=first[0])
    item.title = "A Title Edited By The Administrator"
    item.save()
    for page in (reverse("recourse:for-you"), reverse("recourse:why", args=[first[0]])):
        assert "A Title Edited By The Administrator" in client.get(page).content.decode()


def test_forms_in_a_cached_page_carry_the_requests_own_csrf_token(cached):
    """A fragment cached for one sign-in must work for the next: its forms get each request's own token."""
    dataset, model, alice = cached
    pages = []
    for _ in range(2):  # the second sign-in is served the fragment the first one had rendered
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(alice)
        pages.append((browser, browser.get(reverse("recourse:for-you")).content.decode()))
    for browser, page in reversed(pages):
        first = int(re.findall(r'href="/why/(\d+)/"', page)[0])
        action = reverse("recourse:not-interested", args=[first])
        form = re.search(f'action="{action}"' r'[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken" '
                         r'value="([^"]+)"', page)
        assert form, "the Not interested form has no CSRF token"
        assert browser.post(action, {"csrfmiddlewaretoken": form.group(1)}).status_code == 302


def test_a_fix_is_ranked_once_per_history_and_fix(cached, count_rankings):
    """The top 10 with a fix is cached too (the check, its preview and the apply preview rank it once), keyed by
    the fix and the history's fingerprint: another fix, or the same fix after a change of history, is ranked anew."""
    dataset, model, alice = cached
    rows = list(Interaction.objects.filter(sequence__user=alice).order_by("pk"))
    fix = {rows[0].pk: 0.0}
    first = corrections.preview(user=alice, dataset=dataset, changes=fix)
    rankings = len(count_rankings)
    assert corrections.preview(user=alice, dataset=dataset, changes=dict(fix)).top_after == first.top_after
    assert len(count_rankings) == rankings  # the same fix of the same history: from the cache

    _, recommender = serving.loaded_model(dataset)
    bigger = {rows[0].pk: 0.0, rows[1].pk: 0.0}
    other = corrections.preview(user=alice, dataset=dataset, changes=bigger)
    assert len(count_rankings) == rankings + 1
    assert [item.pk for item in other.top_after] == [
        pk for pk, _ in serving._rank(alice, dataset, recommender, n=10, changes=bigger)["items"]]

    history.not_interested(user=alice, item=first.top_after[0])
    after_hiding = corrections.preview(user=alice, dataset=dataset, changes=fix)
    assert first.top_after[0] not in after_hiding.top_after  # a new fingerprint: ranked again
    assert [item.pk for item in after_hiding.top_after] == [
        pk for pk, _ in serving._rank(alice, dataset, recommender, n=10, changes=fix)["items"]]


def test_a_cached_why_page_is_worded_again_when_the_wording_changes(client, cached, monkeypatch):
    """A release that raises explanations.WORDING rewords the stored explanations; a Why? page cached before it in
    the shared cache kept the old sentences for a day (its key did not name the wording)."""
    from recourse.engine import faithful
    from recourse.services import explanations

    first = shown(client)
    url = reverse("recourse:why", args=[first[0]])
    assert client.get(url).status_code == 200
    worded = faithful.why_words
    monkeypatch.setattr(explanations, "WORDING", explanations.WORDING + 1)
    monkeypatch.setattr(faithful, "why_words", lambda *args, **kwargs: dataclasses.replace(worded(*args, **kwargs),
        narrative="Sentences of today."))
    assert "Sentences of today." in client.get(url).content.decode()


def test_a_changed_fragment_template_is_rendered_at_once(client, cached, settings, tmp_path):
    """A release that changes a fragment's template (a new notice on For you) showed pages cached before it for up
    to a day: the key named the member's state, not what the page is rendered with."""
    assert client.get(reverse("recourse:for-you")).status_code == 200
    released = tmp_path / "recourse" / "_for_you_list.html"
    released.parent.mkdir()
    released.write_text("<p>The released template.</p>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    assert "The released template." in client.get(reverse("recourse:for-you")).content.decode()


def test_for_yous_one_line_reasons_are_worded_again_when_the_wording_changes(client, cached, monkeypatch):
    """Why? pages are keyed by explanations.WORDING, For you's reasons were not: after a release that changed how
    reasons are chosen (the method's top 3, the most-popular ranking of an emptied history) For you kept the old
    line for a day beside a Why? that named other titles."""
    from recourse.engine import faithful
    from recourse.services import explanations

    assert client.get(reverse("recourse:for-you")).status_code == 200
    monkeypatch.setattr(explanations, "WORDING", explanations.WORDING + 1)
    monkeypatch.setattr(faithful, "reason_line", lambda *args, **kwargs: "Reasons of today")
    assert "Reasons of today" in client.get(reverse("recourse:for-you")).content.decode()
