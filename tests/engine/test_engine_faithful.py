"""A "Why?" checked by re-scoring: reasons that move the item, the smallest removal, signed scales, confidence."""
import numpy as np

from recourse.engine.attribution import Agreement, integrated_gradients, occlusion_attribution
from recourse.engine.faithful import HIGH, LOW, MEDIUM, check_why, confidence, signed_scale, why_words
from recourse.engine.sequences import as_history, seen_mask

HISTORY = [3, 5, 7, 9, 11, 2, 14]


def rank_without(model, history, positions, target, exclude):
    variant = history.reweighted(dict.fromkeys(positions, 0.0))
    logits = model.score_last(*model.encode_inputs([variant.items.tolist()], [variant.weights.tolist()]))[0]
    return 1 + int(sum(logits[i] > logits[target] for i in range(1, model.num_items + 1)
                       if not exclude[i] and i != target))


def test_named_reasons_and_the_smallest_removal_hold_when_re_scored_directly(tiny_model):
    history = as_history(HISTORY)
    exclude = seen_mask([history], tiny_model.num_items)[0]
    logits = tiny_model.score_last(*tiny_model.encode_inputs([HISTORY]))[0]
    ranked = [i for i in np.argsort(-logits) if not exclude[i]]
    for target in ranked[:3]:
        for attribution in (integrated_gradients(tiny_model, history, int(target)),
                            occlusion_attribution(tiny_model, history, int(target))):
            checked = check_why(tiny_model, history, attribution, int(target), exclude)
            assert checked.rank == rank_without(tiny_model, history, [], target, exclude)
            for reason in checked.reasons:
                assert reason.rank_after == rank_without(tiny_model, history, reason.positions, target, exclude)
                assert reason.rank_after > checked.rank
            if checked.smallest is not None:
                assert rank_without(tiny_model, history, checked.smallest.positions, target, exclude) > 10
            words = why_words(checked, {i: f"T{i}" for i in range(tiny_model.num_items + 1)}, popular=False)
            assert ("mainly because" in words.narrative) == bool(checked.reasons)
            assert ("No removal of up to" in words.change or "has no removal to try" in words.change) == (
                checked.smallest is None)


def test_signed_scale_keeps_the_sign_and_confidence_follows_the_written_thresholds():
    assert signed_scale(np.array([2.0, -1.0, 0.0])).tolist() == [1.0, -0.5, 0.0]
    assert confidence(Agreement(0.6, 2 / 3, 3)) == HIGH
    assert confidence(Agreement(0.3, 2 / 3, 3)) == MEDIUM
    assert confidence(Agreement(0.05, 1 / 3, 3)) == LOW  # the "medium for a correlation of 0.05"
    assert confidence(Agreement(None, 1.0, 3)) == LOW


def test_two_methods_pushing_the_top_films_opposite_ways_are_low_confidence_and_say_why():
    """With two films the top 2 always match and the order alone counted: leave-one-out finding both films
    pushing the title down was "mostly agrees" with Contributions finding both pushing it up."""
    from recourse.engine.attribution import Attribution, method_agreement
    from recourse.engine.faithful import confidence_text

    def scored(method, scores):
        values = np.array(scores, dtype=np.float64)
        return Attribution(method, np.arange(len(values)), np.arange(1, len(values) + 1), values, values)

    up, down = scored("ig", [0.8, 0.3]), scored("occlusion", [-0.1, -0.5])
    opposed = method_agreement(up, down)
    assert opposed.top_k_overlap == 1.0 and opposed.spearman > 0.99 and opposed.same_direction == 0.0
    assert confidence(opposed) == LOW
    assert "one says it pushes this title up and the other says down" in confidence_text(LOW, opposed)
    agreeing = method_agreement(up, scored("occlusion", [0.5, 0.1]))
    assert agreeing.same_direction == 1.0 and confidence(agreeing) == HIGH
    assert confidence_text(HIGH, agreeing).startswith("High")


def test_the_change_sentence_uses_the_datasets_words():
    from recourse.engine.faithful import CheckedWhy

    checked = CheckedWhy(target=4, rank=2, reasons=[], smallest=None, tried_up_to=3, candidates_scored=7)
    words = why_words(checked, {4: "Song"}, popular=False, verb="played", items="songs")
    assert words.change == "No removal of up to 3 of the songs that count most for it takes “Song” out of your top 10."


def test_counts_are_written_in_the_singular_or_the_plural():
    from recourse.engine.wording import counted

    assert [counted(n, "interaction") for n in (0, 1, 2)] == ["0 interactions", "1 interaction", "2 interactions"]
    assert counted(3, "other item") == "3 other items" and counted(2, "entry", "entries") == "2 entries"


def test_attention_is_never_compared_on_direction_it_has_none():
    """Attention weights are never negative: 'the two push 50% of the top ones the same way' against attention only
    counted IG's positive scores."""
    from recourse.engine.attribution import Attribution, method_agreement

    def scored(method, scores):
        values = np.array(scores, dtype=np.float64)
        return Attribution(method, np.arange(len(values)), np.arange(1, len(values) + 1), values, values)

    assert method_agreement(scored("ig", [0.8, -0.3, 0.1]), scored("attention", [0.5, 0.3, 0.2])).same_direction is None


def test_for_yous_reasons_are_the_reasons_why_names_for_the_same_attribution(tiny_model):
    """For you verified only the method's top 2 and Why? its top 3, so For you read "Because you watched X" where
    the Why? of the same method said "mainly because you watched X and Y" (Y its third). Here the method's first
    two do not lower the title when removed and its third does: both name the third."""
    from recourse.engine.attribution import Attribution
    from recourse.engine.faithful import verified_reasons

    history = as_history(HISTORY)
    exclude = seen_mask([history], tiny_model.num_items)[0]
    logits = tiny_model.score_last(*tiny_model.encode_inputs([HISTORY]))[0]
    for target in [int(i) for i in np.argsort(-logits) if not exclude[i]][:10]:
        rank = rank_without(tiny_model, history, [], target, exclude)
        lowers = [p for p in range(len(HISTORY)) if rank_without(tiny_model, history, [p], target, exclude) > rank]
        others = [p for p in range(len(HISTORY)) if p not in lowers]
        if lowers and len(others) >= 2:
            break
    else:
        raise AssertionError("no title of the tiny model has two non-reasons and a reason; change the history")
    scores = np.zeros(len(HISTORY))
    scores[[others[0], others[1], lowers[0]]] = [3.0, 2.0, 1.0]
    attribution = Attribution("integrated_gradients", np.arange(len(HISTORY)), history.items, scores, scores)
    checked = check_why(tiny_model, history, attribution, target, exclude)
    [line] = verified_reasons(tiny_model, history, [attribution], [target], exclude)
    assert [r.items[0] for r in checked.reasons[:2]] == line == [int(history.items[lowers[0]])]


def test_plays_of_one_title_are_told_apart():
    """A song played four times: each verified reason is one play. 'because you played “Jóga” and “Jóga”' and two
    identical 'Without “Jóga”' sentences could not say which plays; the reason names the title once (as For you's
    one-line reason does) and each sentence about one play says which it is."""
    from recourse.engine.faithful import CheckedWhy, Removal

    second = Removal(positions=(3,), items=(5,), rank_after=4)
    fourth = Removal(positions=(6,), items=(5,), rank_after=3)
    both = Removal(positions=(3, 6), items=(5, 5), rank_after=12)
    checked = CheckedWhy(target=4, rank=2, reasons=[second, fourth], smallest=both, tried_up_to=3, candidates_scored=7)
    occasions = {3: "played 2024-03-05, 2nd of 4 times", 6: "played 2024-04-01, 4th of 4 times"}
    words = why_words(checked, {4: "Halo", 5: "Jóga"}, popular=False, verb="played", items="songs",
                      occasions=occasions)
    assert words.reason == "Because you played “Jóga”"
    assert words.narrative.startswith("“Halo” is recommended mainly because you played “Jóga”. Without “Jóga” "
                                      "(played 2024-03-05, 2nd of 4 times), “Halo” would drop from #2 to #4.")
    assert words.drops == ["Without “Jóga” (played 2024-03-05, 2nd of 4 times), “Halo” would drop from #2 to #4.",
                           "Without “Jóga” (played 2024-04-01, 4th of 4 times), “Halo” would drop from #2 to #3."]
    assert words.change.startswith("Removing “Jóga” (played 2024-03-05, 2nd of 4 times) and “Jóga” (played "
                                   "2024-04-01, 4th of 4 times) would take “Halo” out of your top 10")
    plain = why_words(checked, {4: "Halo", 5: "Jóga"}, popular=False, verb="played", items="songs")
    assert plain.drops[0] == "Without “Jóga”, “Halo” would drop from #2 to #4."
