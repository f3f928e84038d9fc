"""``reliability --resume`` of benchmarks/deletion_diagnostics.py on the tiny SASRec case of the paired tests."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from diagnostics.engine.exact import DiagnosticData
from tests.diagnostics.test_diagnostics_paired import SASREC, histories

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "deletion_diagnostics.py"
ARGS = ["reliability", "--architecture", "sasrec", "--users", "3", "--items", "3", "--seed-list", "5",
        "--warm-epochs", "--tag", "tiny"]
RESULT = "reliability-tiny-seed5-raw.json"


class Stopped(Exception):
    pass


@pytest.fixture
def runner(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("deletion_diagnostics_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = DiagnosticData.from_histories(histories())
    monkeypatch.setattr(module, "load", lambda: data)
    monkeypatch.setattr(module, "OUT", tmp_path)
    monkeypatch.setitem(module.SPECS, "sasrec", SASREC)
    return module


def run(runner, monkeypatch, *extra: str, stop_after: int | None = None) -> list[list[str]]:
    """Runs the phase; the entities it retrained, in order. ``stop_after`` retrains, it stops as if killed."""
    retrained: list[list[str]] = []
    exact_ranks = getattr(runner.exact_ranks, "unwrapped", runner.exact_ranks)  # not an earlier run's counter

    def counted(data, spec, removal, seed, model):
        if len(retrained) == stop_after:
            raise Stopped
        retrained.append([removal.kind, removal.key])
        return exact_ranks(data, spec, removal, seed, model)

    counted.unwrapped = exact_ranks  # type: ignore[attr-defined]
    monkeypatch.setattr(runner, "exact_ranks", counted)
    monkeypatch.setattr(sys, "argv", ["deletion_diagnostics.py", *ARGS, *extra])
    runner.main()
    return retrained


def results(runner) -> dict:
    found = json.loads((runner.OUT / RESULT).read_text())
    return {key: found[key] for key in ("removals", "entities_done", "base_metric", "exact", "approx")}


def test_a_resumed_run_retrains_only_the_entities_left_and_ends_as_an_uninterrupted_run(runner, monkeypatch):
    retrained = run(runner, monkeypatch)
    uninterrupted = results(runner)
    assert uninterrupted["entities_done"] == 6 and retrained == uninterrupted["removals"]
    (runner.OUT / RESULT).unlink()
    with pytest.raises(Stopped):
        run(runner, monkeypatch, stop_after=2)
    assert results(runner)["entities_done"] == 2

    resumed = run(runner, monkeypatch, "--resume")

    assert resumed == uninterrupted["removals"][2:]
    assert results(runner) == uninterrupted


def test_resume_refuses_when_the_refitted_full_model_is_not_the_stopped_runs(runner, monkeypatch):
    with pytest.raises(Stopped):
        run(runner, monkeypatch, stop_after=2)
    stopped = json.loads((runner.OUT / RESULT).read_text())
    stopped["base_metric"]["MAP@10"][0] += 1e-12
    (runner.OUT / RESULT).write_text(json.dumps(stopped))

    with pytest.raises(SystemExit, match="refitted full model has MAP@10"):
        run(runner, monkeypatch, "--resume")
    assert json.loads((runner.OUT / RESULT).read_text()) == stopped
