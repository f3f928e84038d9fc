import numpy as np

from recourse.engine.attribution import integrated_gradients, method_agreement, occlusion_attribution
from recourse.engine.counterfactual import counterfactual_ranks, top_counterfactuals
from recourse.engine.drift_detection import detect_drift
from recourse.engine.drift_injection import inject_drift
from recourse.engine.narratives import (
    because_line,
    confidence_level,
    counterfactual_sentence,
    drift_narrative,
    explain_recommendation,
    join_titles,
    recourse_narrative,
)
from recourse.engine.recourse_search import plan_recourse

HISTORY = [3, 5, 7, 9, 11, 2, 14]


def direct_rank(model, history, target, seen):
    logits = model.score_last(*model.encode_inputs([history]))[0]
    candidates = [i for i in range(1, model.num_items + 1) if i not in seen or i == target]
    return 1 + sum(logits[i] > logits[target] for i in candidates if i != target)


def test_counterfactual_ranks_match_direct_recomputation(tiny_model):
    target = 4
    results = counterfactual_ranks(tiny_model, HISTORY, target, positions=[0, 3, 6])
    for result in results:
        without = HISTORY[: result.position] + HISTORY[result.position + 1 :]
        assert result.rank_before == direct_rank(tiny_model, HISTORY, target, set(HISTORY))
        assert result.rank_after == direct_rank(tiny_model, without, target, set(HISTORY))
        assert result.item == HISTORY[result.position]


def test_top_counterfactuals_use_supporting_interactions(tiny_model):
    ig = integrated_gradients(tiny_model, HISTORY, 4)
    results = top_counterfactuals(tiny_model, HISTORY, ig, k=2)
    assert all(ig.score_of(r.position) > 0 for r in results)
    assert [r.position for r in results] == [p for p in ig.top_positions(2) if ig.score_of(p) > 0]


def test_phrasing_is_fixed():
    assert join_titles(["A"]) == "“A”"
    assert join_titles(["A", "B", "C"]) == "“A”, “B” and “C”"
    assert because_line(["Heat", "Ronin"]) == "Because you watched “Heat” and “Ronin”"
    assert because_line(["Heat"], verb="read") == "Because you read “Heat”"
    assert confidence_level(0.01, None) == "low"


def test_counterfactual_sentence_wording(tiny_model):
    result = counterfactual_ranks(tiny_model, HISTORY, 4, positions=[0])[0]
    titles = {HISTORY[0]: "Heat", 4: "Ronin"}
    sentence = counterfactual_sentence(result, titles)
    assert sentence.startswith("Without “Heat”, “Ronin” would ")
    assert f"#{result.rank_before}" in sentence


def test_narrative_names_real_items_from_the_history(tiny_model):
    titles = {item: f"Film {item}" for item in range(1, 31)}
    ig = integrated_gradients(tiny_model, HISTORY, 4)
    agreement = method_agreement(ig, occlusion_attribution(tiny_model, HISTORY, 4))
    narrative = explain_recommendation(ig, titles, counterfactuals=top_counterfactuals(tiny_model, HISTORY, ig),
                                       agreement=agreement)
    named = [HISTORY[p] for p in narrative.supporting_positions]
    assert named and all(HISTORY[p] in HISTORY for p in narrative.supporting_positions)
    assert narrative.reason == because_line([titles[i] for i in named])
    assert "“Film 4” is recommended mainly because you watched" in narrative.text
    assert narrative.confidence in ("high", "medium", "low") and narrative.confidence_text in narrative.text
    again = explain_recommendation(ig, titles, counterfactuals=top_counterfactuals(tiny_model, HISTORY, ig),
                                   agreement=agreement)
    assert again == narrative  # same situation, same words


def test_drift_and_recourse_narratives_name_flagged_items(world, calibration, held_out):
    history, profile = held_out[0]
    injection = inject_drift(history, "random", num_items=world.model.num_items, categories=world.categories, seed=0)
    report = detect_drift(world.model, injection.history, profile, world.categories, calibration)
    text = drift_narrative(report, world.titles)
    assert report.drift and text.startswith("Your recommendations are drifting away")
    assert world.titles[int(injection.history.items[report.flagged_positions[0]])] in text
    result = plan_recourse(world.model, injection.history, profile, world.categories, report=report, reference=history,
                      max_changes=30)
    story = recourse_narrative(result, world.titles, max_items=len(result.changes))
    assert all(world.titles[c.item] in story for c in result.changes)
    if len(result.changes) > 1:
        assert "and 1 other item" in recourse_narrative(result, world.titles, max_items=len(result.changes) - 1) or \
            any(c.action == "down_weight" for c in result.changes)
    assert np.all(np.isin([c.item for c in result.changes], injection.history.items))


def test_explain_item_bundles_every_method(tiny_model):
    from engine_tiny_model import TinyRecommender

    from recourse.engine.explanation import explain_item

    titles = {item: f"Film {item}" for item in range(1, 31)}
    explanation = explain_item(tiny_model, HISTORY, 4, titles)
    assert explanation.attention is not None and explanation.narrative.reason.startswith("Because you watched")
    assert explanation.occlusion is None and explanation.compared_with is explanation.attention
    with_occlusion = explain_item(tiny_model, HISTORY, 4, titles, with_occlusion=True)
    assert with_occlusion.integrated_gradients.positions.tolist() == with_occlusion.occlusion.positions.tolist()
    without_attention = explain_item(TinyRecommender(30, 12, dim=8, seed=3, attention=False), HISTORY, 4, titles)
    assert without_attention.attention is None and "no attention layer" in without_attention.attention_unavailable
    assert without_attention.compared_with is without_attention.occlusion is not None


def test_warm_up_traces_without_error(world):
    from recourse.engine.explanation import trace_explainers

    trace_explainers(world.model, world.categories)


def test_the_confidence_sentence_agrees_in_number_with_how_many_are_shared():
    from recourse.engine.attribution import Agreement
    from recourse.engine.faithful import confidence_text

    one = Agreement(top_k_overlap=1 / 3, k=3, spearman=None)
    two = Agreement(top_k_overlap=2 / 3, k=3, spearman=None)
    assert confidence_text("low", one).endswith("(1 of the top 3 films is the same).")
    assert confidence_text("medium", two, items="songs").endswith("(2 of the top 3 songs are the same).")


def test_a_shared_top_held_back_by_the_order_says_the_order_differs():
    """"Medium: partly agrees (3 of the top 3 films are the same)" was shown when the rank correlation was low."""
    from recourse.engine.attribution import Agreement
    from recourse.engine.faithful import confidence, confidence_text

    all_shared = Agreement(top_k_overlap=1.0, k=3, spearman=0.3)
    level = confidence(all_shared)
    assert level == "medium"
    assert confidence_text(level, all_shared).endswith(
        "(3 of the top 3 films are the same, but the two order your films differently).")
    agreeing = Agreement(top_k_overlap=1.0, k=3, spearman=0.9)
    assert confidence_text(confidence(agreeing), agreeing).endswith("(3 of the top 3 films are the same).")
    one_shared = Agreement(top_k_overlap=1 / 3, k=3, spearman=0.3)
    assert confidence_text(confidence(one_shared), one_shared).endswith("(1 of the top 3 films is the same).")


def test_one_film_to_compare_is_not_called_a_disagreement():
    """A member with one film that counts read "Low: a second way of explaining it disagrees ... (1 of the top 1
    films is the same)": with one film there is nothing to agree or disagree on."""
    from recourse.engine.attribution import Agreement
    from recourse.engine.faithful import confidence, confidence_text

    one_film = Agreement(spearman=None, top_k_overlap=1.0, k=1)
    text = confidence_text(confidence(one_film), one_film, items="songs")
    assert "disagrees" not in text and "1 of the top 1" not in text
    assert text == ("Low: only one of your songs counts for it, so there is no order to compare with a second way "
                    "of explaining it; treat this as a rough guide.")  # not "could not be compared" beside Details
    nothing = Agreement(spearman=None, top_k_overlap=0.0, k=0)
    assert "disagrees" not in confidence_text(confidence(nothing), nothing)
    # the one film pushed up by one method and down by the other was compared, and they disagree: not "could not be
    # compared" beside Details' "the two push 0.0% of the top ones the same way"
    opposed = Agreement(spearman=None, top_k_overlap=1.0, k=1, same_direction=0.0)
    text = confidence_text(confidence(opposed), opposed, items="songs", item="song")
    assert "could not be compared" not in text
    assert text.endswith("(for the one song both score, one says it pushes this title up and the other says down).")


def test_a_low_confidence_only_for_want_of_an_order_does_not_say_the_methods_disagree():
    """One method scoring every interaction alike leaves no order to compare (no rank correlation): 'disagrees (3 of
    the top 3 films are the same)' contradicted itself."""
    from recourse.engine.attribution import Agreement
    from recourse.engine.faithful import confidence, confidence_text

    alike = Agreement(top_k_overlap=1.0, k=3, spearman=None)
    text = confidence_text(confidence(alike), alike, items="items")
    assert "disagrees" not in text and text.startswith("Low: a second way of explaining it could not be compared")
    assert text.endswith("(3 of the top 3 items are the same).")
    none_shared = Agreement(top_k_overlap=0.0, k=3, spearman=None)
    assert "disagrees" in confidence_text(confidence(none_shared), none_shared)


def test_a_reason_line_without_a_reason_does_not_call_one_or_two_items_many():
    from recourse.engine.faithful import reason_line

    one = reason_line([], "picked", "items", distinct_items=1, item="item")
    assert one == "Not clearly because of the one item you picked"
    assert reason_line([], "watched", "films", distinct_items=2) == "Based on both of your films together"
    assert reason_line([], "picked", "items", distinct_items=7) == "Based on many of your items together"
    assert reason_line(["A"], "picked", "items", distinct_items=1) == "Because you picked “A”"
