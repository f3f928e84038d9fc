"""Development probe for the taste check (issue 19, sixth measurement): a learned per-interaction drift detector.

Only development users are touched (as benchmarks/drift_dev.py). A gradient-boosted classifier (scikit-learn) is
trained on the calibration members' histories with simulated drift (RULES["joint_steady"]'s three copies each;
kinds cycling appended / interleaved / burst; half uniform unseen items, half coherent episodes the model generates,
taste_joint.coherent_episodes) to tell injected interactions from genuine ones among the 15 most recent, from what
the check already measures (suspicion, surprisal, distance from the end, the neighbours' and the window's
suspicion). The fix removes the candidates whose probability of being injected is above a threshold chosen on the
simulated members (the fix that moves their next-item distribution closest back to the clean one), at most 8.
It is compared on the development users with `joint_steady`'s own fix, both gated by `joint_steady`'s verdict, and
with that fix corrected by the classifier where it is confident (COMBINATIONS; seventh measurement). `--classifier
logistic` swaps the boosted trees for a scaled logistic regression (a model small enough to store as JSON).

    nice -n 10 .venv/bin/python benchmarks/drift_learned.py --data /work/shared/data/ml-100k-recbole \\
        --format recbole --name ml100k --out var/drift/dev/ml100k-learned.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drift_dev import (  # noqa: E402
    curves_of,
    eligible,
    fix_index,
    gated_shares,
    model_arguments,
    rule_statistic,
    split_users,
)
from benchmarks.drift_recourse import category_index, histories_of, load_dataset, trained_model  # noqa: E402
from recourse.engine.injection import inject  # noqa: E402
from recourse.engine.sequences import History, without_positions  # noqa: E402
from recourse.engine.taste import CausalModel, final_log_probs, measure_taste  # noqa: E402
from recourse.engine.taste_experiment import Member, evaluate_conditions  # noqa: E402
from recourse.engine.taste_joint import coherent_episodes  # noqa: E402
from recourse.engine.taste_recourse import (  # noqa: E402
    RULES,
    SIMULATED_KINDS,
    TasteCalibration,
    _js_divergence,
    calibrate_taste,
)

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MAX_REMOVALS = 8
# (add, drop): the rule's fix plus the candidates the classifier is at least `add` sure of, minus the rule's removals
# it is at most `drop` sure of; 1.01 / -1 leave that side alone.
COMBINATIONS = tuple((add, drop) for add in (0.6, 0.8, 0.9, 1.01) for drop in (-1.0, 0.05, 0.1, 0.2)
                     if (add, drop) != (1.01, -1.0))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = model_arguments(__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="interleaved,appended")
    parser.add_argument("--classifier", choices=("boosting", "logistic"), default="boosting")
    parser.add_argument("--out")
    return parser.parse_args(argv)


def candidate_features(model: CausalModel, histories: Sequence[History], calibration: TasteCalibration
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per history: (candidate caller positions, one feature row per candidate)."""
    measures = measure_taste(model, histories, window=calibration.window, candidates_only=True)
    result = []
    for measure in measures:
        scores = calibration.norm.scores(measure)
        index = np.flatnonzero(measure.candidates)
        z = np.nan_to_num(scores[index], nan=0.0, neginf=0.0)
        surprisal = np.nan_to_num(measure.surprisal[index], nan=0.0)
        distance = measure.distance_from_end()[index].astype(float)
        previous = np.concatenate([[0.0], z[:-1]])
        following = np.concatenate([z[1:], [0.0]])
        later = np.asarray([z[i + 1:].mean() if i + 1 < len(z) else 0.0 for i in range(len(z))])
        earlier = np.asarray([z[:i].mean() if i else 0.0 for i in range(len(z))])
        rank = np.argsort(np.argsort(-z)).astype(float)
        unusual = np.full(len(z), float((z > calibration.flag_threshold).sum()))
        top = np.full(len(z), float(z.max(initial=0.0)))
        rows = np.column_stack([z, surprisal, distance, previous, following, later, earlier, rank, unusual, top])
        result.append((measure.positions[index], rows))
    return result


def simulated_training_set(model: CausalModel, fit: Sequence[History], copies: int, rng: np.random.Generator
                           ) -> tuple[list[History], list[History], list[np.ndarray]]:
    """(clean, drifted, injected positions) for `copies` drifted copies of each fitting history."""
    clean, drifted, injected = [], [], []
    for copy in range(copies):
        for row, history in enumerate(fit):
            kind = SIMULATED_KINDS[row % len(SIMULATED_KINDS)]
            size = int(rng.integers(2, 7))
            coherent = (row // len(SIMULATED_KINDS) + copy) % 2 == 1
            items = coherent_episodes(model, [history], [size], rng, [np.zeros(0, np.int64)])[0] if coherent else None
            scenario = inject(kind, history, model.num_items, rng, k=size, window=model.max_len, items=items)
            clean.append(history)
            drifted.append(scenario.history)
            injected.append(scenario.injected_positions)
    return clean, drifted, injected


def learned_fixes(probabilities: Sequence[tuple[np.ndarray, np.ndarray]], threshold: float) -> list[np.ndarray]:
    """Per history: the candidate positions above `threshold`, the MAX_REMOVALS most probable at most."""
    fixes = []
    for positions, p in probabilities:
        chosen = np.flatnonzero(p > threshold)
        chosen = chosen[np.argsort(-p[chosen])][:MAX_REMOVALS]
        fixes.append(np.sort(positions[chosen]))
    return fixes


def combined_fixes(rule_plans: Sequence[np.ndarray], probabilities: Sequence[tuple[np.ndarray, np.ndarray]],
                   add: float, drop: float) -> list[np.ndarray]:
    """Per history: the rule's fix, corrected by the classifier where it is confident (see COMBINATIONS)."""
    fixes = []
    for plan, (positions, p) in zip(rule_plans, probabilities, strict=True):
        sure = dict(zip(positions.tolist(), p.tolist(), strict=True))
        kept = {int(q) for q in plan if sure.get(int(q), 1.0) > drop}
        added = {int(q) for q, value in sure.items() if value >= add}
        fixes.append(np.asarray(sorted(kept | added), dtype=np.int64))
    return fixes


def choose_threshold(model: CausalModel, clean: Sequence[History], drifted: Sequence[History],
                     probabilities: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[float, dict[str, float]]:
    reference = final_log_probs(model, list(clean))
    untouched = float(np.mean(_js_divergence(final_log_probs(model, list(drifted)), reference)))
    won = {}
    for threshold in THRESHOLDS:
        fixed = [without_positions(h, plan)
                 for h, plan in zip(drifted, learned_fixes(probabilities, threshold), strict=True)]
        won[str(threshold)] = 1.0 - float(np.mean(_js_divergence(final_log_probs(model, fixed), reference))) / untouched
    best = max(THRESHOLDS, key=lambda t: won[str(t)])
    return best, won


def predict(classifier: Any, features: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(positions, classifier.predict_proba(rows)[:, 1] if len(rows) else np.zeros(0))
            for positions, rows in features]


def evaluate_kind(model: CausalModel, members: list[Member], calibration: TasteCalibration, classifier: Any,
                  threshold: float, categories: Any, kind: str, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    clean = [History(m.history, np.ones(len(m.history), dtype=np.float32)) for m in members]
    scenarios = [inject(kind, h, model.num_items, rng, k=5, m=10, window=model.max_len, categories=categories,
                        forbidden=np.asarray([m.target], dtype=np.int64)) for h, m in zip(clean, members, strict=True)]
    drifted = [s.history for s in scenarios]
    curves = curves_of(model, drifted, calibration)
    rule_plans = [c.plans[fix_index(c, calibration)] for c in curves]
    probabilities = predict(classifier, candidate_features(model, drifted, calibration))
    fixes = {"rule": rule_plans, "learned": learned_fixes(probabilities, threshold)}
    for add, drop in COMBINATIONS:
        fixes[f"combo {add}/{drop}"] = combined_fixes(rule_plans, probabilities, add, drop)
    conditions: dict[str, list[tuple[History, int]] | None] = {
        "clean": [(h, 0) for h in clean], "drifted": [(h, 0) for h in drifted],
        **{name: [(without_positions(h, p), len(p)) for h, p in zip(drifted, plans, strict=True)]
           for name, plans in fixes.items()}}
    per_member = evaluate_conditions(model, members, scenarios, conditions, seed)
    metrics = {name: {metric: np.asarray(values[metric]) for metric in ("sampled:HR@10", "full:HR@10")}
               for name, values in per_member.items() if values is not None}
    gate = np.asarray([eligible(c, calibration) for c in curves]) & (
        rule_statistic(curves, calibration) > calibration.gain_cutoff)
    everything = np.ones(len(members), dtype=bool)
    result: dict[str, Any] = {"verdict_yes": float(gate.mean())}
    for name, plans in fixes.items():
        chosen = {**metrics, "fix": metrics[name]}
        hits = sum(int(np.isin(p, s.injected_positions).sum()) for p, s in zip(plans, scenarios, strict=True))
        total = sum(len(p) for p in plans)
        result[name] = {"alone": gated_shares(chosen, everything, seed), "gated": gated_shares(chosen, gate, seed),
                        "precision": hits / total if total else None,
                        "recall": hits / sum(len(s.injected_positions) for s in scenarios),
                        "changes": total / len(plans)}
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    name = args.name or Path(args.data).name
    parsed = load_dataset(args.data, args.format, args.drop_categories)
    recommender, _ = trained_model(histories_of(parsed), args, name)
    assert recommender.split is not None
    model = recommender.model
    reference, members = split_users(recommender.split, args.seed)
    options = dict(RULES["joint_steady"])
    calibration = calibrate_taste(model, reference, **options)
    usable = [h for h in reference if (h.weights > 0).sum() >= 3]
    fit = usable[:len(usable) - int(len(usable) * 0.3)]
    rng = np.random.default_rng(args.seed)
    clean, drifted, injected = simulated_training_set(model, fit, options["simulated_copies"], rng)
    features = candidate_features(model, drifted, calibration)
    rows = np.concatenate([f[1] for f in features])
    labels = np.concatenate([np.isin(f[0], positions) for f, positions in zip(features, injected, strict=True)])
    classifier = (HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=args.seed)
                  if args.classifier == "boosting" else
                  make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)))
    classifier.fit(rows, labels)
    threshold, simulated = choose_threshold(model, clean, drifted, predict(classifier, features))
    results: dict[str, Any] = {"name": name, "classifier": args.classifier, "training_rows": int(len(rows)),
                               "injected_share": float(labels.mean()),
                               "threshold": threshold, "simulated_ads_won_back": simulated,
                               "rule_margin": calibration.noise_margin, "rule_depth": calibration.removal_depth,
                               "kinds": {}}
    categories = category_index(parsed, recommender)
    for kind in args.kinds.split(","):
        results["kinds"][kind] = evaluate_kind(model, members, calibration, classifier, threshold, categories, kind,
                                               args.seed)
        print(kind, json.dumps(results["kinds"][kind]), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps({k: v for k, v in results.items() if k != "kinds"}))


if __name__ == "__main__":
    main()
