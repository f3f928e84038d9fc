import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from recourse.models import Explanation, ExplanationFeedback
from recsys.models import TrainedModel

from .conftest import train_now
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def first_recommendation(client):
    return client.get(reverse("recourse:for-you")).context["recs"].items[0].item


def test_for_you_gives_a_reason_and_a_why_link_for_each_item(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    page = client.get(reverse("recourse:for-you"))
    content = page.content.decode()
    assert content.count("Because you watched") + content.count("Based on many of your films together") == 10
    assert reverse("recourse:why", args=[page.context["recs"].items[0].item.pk]) in content


def test_why_page_explains_with_real_history_items(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    page = client.get(reverse("recourse:why", args=[item.pk]))
    assert page.status_code == 200
    explanation = page.context["explanation"]
    history_titles = {f"Film {i:02d} ({1990 + i})" for i in (1, 2, 3, 4)}
    named = [title for title in history_titles if title in explanation.details["narrative"]]
    assert named or "has no single main reason" in explanation.details["narrative"]
    assert explanation.details["narrative"].startswith(f"“{item.title}” ")
    assert explanation.completeness_gap <= 0.05
    assert b"top-contributors" in page.content and b"history-timeline" in page.content
    assert b"What the model uses" in page.content and b"Not used:" in page.content
    assert {row.method for row in Explanation.objects.filter(user=alice)} == {"ig"}
    assert b"?method=occlusion" in page.content  # computed when the member asks for it


def test_explanations_are_cached_while_history_and_model_are_unchanged(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    client.get(reverse("recourse:why", args=[item.pk]))
    occlusion = client.get(reverse("recourse:why", args=[item.pk]) + "?method=occlusion").context["explanation"]
    assert occlusion.details["agreement"]["with"] == "Integrated Gradients"
    client.get(reverse("recourse:why", args=[item.pk]) + "?method=occlusion")
    client.get(reverse("recourse:why", args=[item.pk]) + "?method=attention")
    assert Explanation.objects.filter(user=alice).count() == 3


def test_an_explanation_stored_by_older_templates_is_worded_again(client, trained):
    """Its sentences are stored; a member whose history has not changed would keep reading the old ones."""
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    client.get(reverse("recourse:why", args=[item.pk]))
    old = Explanation.objects.get(user=alice, method="ig")
    Explanation.objects.filter(pk=old.pk).update(details={**old.details, "wording": 1, "narrative": "old words"})
    page = client.get(reverse("recourse:why", args=[item.pk]))
    assert page.context["explanation"].details["narrative"] != "old words"
    assert Explanation.objects.get(pk=old.pk).details["wording"] > 1


def test_feedback_is_stored_and_only_on_own_explanations(client, trained, make_user):
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    explanation = client.get(reverse("recourse:why", args=[item.pk])).context["explanation"]
    client.post(reverse("recourse:feedback", args=[explanation.pk]), {"helpful": "yes", "comment": "clear"})
    assert ExplanationFeedback.objects.get().comment == "clear"

    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=(10, 11))
    client.force_login(bob)
    assert client.post(reverse("recourse:feedback", args=[explanation.pk]), {"helpful": "no"}).status_code == 404
    assert client.get(reverse("api-explanation", args=[explanation.pk])).status_code == 404
    assert ExplanationFeedback.objects.count() == 1


def test_answering_was_this_helpful_again_replaces_the_answer_instead_of_counting_twice(client, trained):
    """A double-click, or answering again on a later visit, must not count twice in the analysts' helpful rate."""
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    explanation = client.get(reverse("recourse:why", args=[item.pk])).context["explanation"]
    url = reverse("recourse:feedback", args=[explanation.pk])
    for _ in range(3):
        client.post(url, {"helpful": "no", "comment": "unclear"})
    client.post(url, {"helpful": "yes"})
    answer = ExplanationFeedback.objects.get()
    assert answer.helpful and answer.comment == "" and answer.user == alice


def test_explanation_api_and_export(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    data = client.get(reverse("api-explain", args=[item.pk]) + "?method=occlusion").json()
    assert data["method"] == "occlusion" and len(data["raw_scores"]) == 4
    assert client.get(reverse("api-explanation", args=[data["id"]])).json()["id"] == data["id"]
    client.get(reverse("api-explain", args=[item.pk]) + "?method=attention")
    exported = json.loads(client.get(reverse("export-json")).content)
    assert {e["method"] for e in exported["explanations"]} == {"attention", "occlusion"}


def test_bad_requests_get_clear_messages(client, trained, make_user):
    dataset, model, alice = trained
    client.force_login(alice)
    assert client.get(reverse("recourse:why", args=[999999])).status_code == 404
    watched = client.get(reverse("recourse:why", args=[dataset.items.get(external_id="1").pk]))
    assert watched.status_code == 404
    assert "is in your history, removed or not, and nothing you watched is recommended to you again" in (
        watched.content.decode())
    shown = {rec.item.pk for rec in client.get(reverse("recourse:for-you")).context["recs"].items}
    other = dataset.items.exclude(pk__in=shown).exclude(external_id__in=["1", "2", "3", "4"]).first()
    not_recommended = client.get(reverse("recourse:why", args=[other.pk]))
    assert not_recommended.status_code == 404
    assert "That film is not among your current recommendations" in not_recommended.content.decode()
    unknown = client.get(reverse("recourse:why", args=[first_recommendation(client).pk]) + "?method=shap")
    assert unknown.status_code == 400
    assert ("no way of explaining called “shap”; choose Contributions, Where the model looked or Leave one out"
            in unknown.content.decode())

    client.force_login(make_user("newbie"))
    empty = client.get(reverse("recourse:why", args=[dataset.items.get(external_id="9").pk]))
    assert b"no history the model knows" in empty.content


def test_attention_on_a_model_without_attention_says_so(client, trained):
    dataset, _, alice = trained
    train_now(dataset, architecture="gru4rec")
    client.force_login(alice)
    page = client.get(reverse("recourse:why", args=[first_recommendation(client).pk]) + "?method=attention")
    assert b"has no attention layer" in page.content


def test_batch_explanation_job_caches_members_explanations(trained, make_user):
    from recsys import jobs

    dataset, model, alice = trained
    make_user("no-history")
    job = jobs.start_job(kind="explain_members", params={"dataset_id": dataset.pk, "top_k": 2})
    assert job.queue == "xai"
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result == {"members": 1, "explanations": 2, "members_without_history": 0}
    assert Explanation.objects.filter(user=alice).values("target_item").distinct().count() == 2


def test_explanation_warm_up_runs_for_active_models(trained, caplog):
    import logging

    from recourse.warmup import warm_up_explanations

    with caplog.at_level(logging.INFO, logger="recourse.warmup"):
        warm_up_explanations()
    assert "Explanations warmed up for" in caplog.text


@pytest.mark.parametrize("posted, said", [
    ({"helpful": "yes", "comment": "x" * 2001},
     "A comment can be at most 2000 characters; yours has 2001. Nothing was saved."),
    ({"comment": "clear"}, "Please answer yes or no."),
])
def test_refused_feedback_says_what_was_wrong(member_client, posted, said):
    dataset = make_dataset()
    model = TrainedModel.objects.create(dataset=dataset, architecture="sasrec")
    explanation = Explanation.objects.create(user=member_client.user, trained_model=model,
                                             target_item=dataset.items.first(), method="ig", history_fingerprint="f")
    response = member_client.post(reverse("recourse:feedback", args=[explanation.pk]), posted)
    assert [str(message) for message in get_messages(response.wsgi_request)] == [said]
    assert not ExplanationFeedback.objects.exists()


def test_why_of_a_title_marked_not_interested_says_so(client, trained):
    """After "Not interested" on #1, its Why? link said only "That item is not among your current recommendations"."""
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    client.post(reverse("recourse:not-interested", args=[item.pk]))
    page = client.get(reverse("recourse:why", args=[item.pk]))
    assert page.status_code == 404
    assert (f"You marked “{item.title}” “Not interested”, so it is not recommended to you; you can undo that on My "
            "corrections.") in page.content.decode()


def test_the_attention_chart_says_how_much_not_which_way(client, trained):
    """Attention weights are never negative: 'pushed up (blue) or down (red)' was untrue of them."""
    dataset, model, alice = trained
    client.force_login(alice)
    item = first_recommendation(client)
    attention = client.get(reverse("recourse:why", args=[item.pk]) + "?method=attention").content.decode()
    assert "it has no direction" in attention and "attention weight" in attention
    # last-position attention is read before any title is scored: two titles get the same chart, and it says so
    assert "the same for every title the model suggests" in attention
    assert "up (blue, right) or down (red, left)" not in attention and "pushed it up" not in attention
    ig = client.get(reverse("recourse:why", args=[item.pk])).content.decode()
    assert "up (blue, right) or down (red, left)" in ig and "pushed it up" in ig
    assert "it has no direction" not in ig


def test_a_removal_that_leaves_nothing_is_ranked_as_for_you_would_then_rank_it(trained, make_user):
    """A one-film member: without the film For you shows the most-popular list, so "Without X, Y would drop from #2
    to #6" and "Removing X would take Y out of your top 10" must be said of that list (they were said of the
    model's scores for an empty input: a member read #6 where For you, once X was removed, showed Y at #5)."""
    from recourse.services import corrections, explanations
    from recsys.services import serving

    dataset, model, _ = trained
    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=(3,))
    stated = {}
    top = serving.recommend_for_member(bob, dataset, n=10).items
    lines = explanations.one_line_reasons(user=bob, dataset=dataset, items=[rec.item for rec in top])
    for rec in top:
        for method in ("ig", "occlusion"):
            details = explanations.explain(user=bob, dataset=dataset, item_id=rec.item.pk, method=method
                                           ).explanation.details
            for said in [*details["reasons"], *filter(None, [details["smallest_removal"]])]:
                stated[(rec.item.pk, method)] = said["rank_after"]
    assert stated, "the one film is a reason for some recommendation"
    [row] = bob.sequences.get().interactions.all()
    corrections.remove_from_history(user=bob, interaction_id=row.pk)
    served = serving.recommend_for_member(bob, dataset, n=dataset.items.count())
    assert served.fallback
    rank_now = {rec.item.pk: rec.rank for rec in served.items}
    assert {key: rank_now[key[0]] for key in stated} == stated
    # For you's one-line reason names the film only where removing it lowers the title
    named = [rec for rec in top if "Film 03" in lines[rec.item.pk]]
    assert named and all(rank_now[rec.item.pk] > rec.rank for rec in named)


def test_why_tells_apart_the_plays_of_a_title_the_history_holds_twice(trained):
    """A title picked again (a song replayed, a product rebought): each of its interactions is named with what tells
    it apart ("watched 1970-01-12, 2nd of 2 times"), the others are not; the Why? sentences use these names."""
    from recourse.selectors import member_history
    from recourse.services.explanations import _repeat_occasions
    from recsys.models import Interaction, InteractionSequence, Item
    from recsys.services import serving

    dataset, model, alice = trained
    sequence = InteractionSequence.objects.get(dataset=dataset, user=alice)
    Interaction.objects.create(sequence=sequence, item=Item.objects.get(dataset=dataset, external_id="2"),
                               timestamp=2_000_000, position=9, rating=4.0)
    _, recommender = serving.loaded_model(dataset)
    mine = member_history(alice, dataset, recommender)
    occasions = _repeat_occasions(alice, mine)
    titles = [mine.interactions[p].item.title for p in sorted(occasions)]
    assert titles == ["Film 02 (1992)", "Film 02 (1992)"]
    assert [occasions[p].rsplit(", ", 1)[1] for p in sorted(occasions)] == ["1st of 2 times", "2nd of 2 times"]
    assert all(occasion.startswith("watched 1970-01-") for occasion in occasions.values())
