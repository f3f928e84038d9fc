import pytest
from django.core.management import CommandError, call_command

from recsys.ml.pipeline import prepare_data
from recsys.selectors import sequence_histories

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def read_rows(path):
    return [line.split("\t") for line in path.read_text().splitlines()[1:]]


def test_export_split_matches_the_training_split_and_is_stable(tmp_path):
    dataset = make_dataset()
    for user in range(4):
        make_history(dataset, external_user_id=f"u{user}", item_ids=[(user + k) % 20 + 1 for k in range(5)])
    call_command("export_split", dataset.name, str(tmp_path / "a"))
    call_command("export_split", dataset.name, str(tmp_path / "b"))
    for part in ("train", "valid", "test", "sasrec"):
        suffix = "sasrec.txt" if part == "sasrec" else f"{part}.inter"
        assert (tmp_path / "a" / f"films.{suffix}").read_text() == (tmp_path / "b" / f"films.{suffix}").read_text()

    split = prepare_data(sequence_histories(dataset=dataset, external_ids=True)).split
    test_rows = read_rows(tmp_path / "a" / "films.test.inter")
    assert [(u, i) for u, i, _ in test_rows] == [("u0", "5"), ("u1", "6"), ("u2", "7"), ("u3", "8")]
    assert len(read_rows(tmp_path / "a" / "films.train.inter")) == sum(len(items) for items in split.train.items)
    assert len((tmp_path / "a" / "films.sasrec.txt").read_text().splitlines()) == 4 * 5


def test_export_split_of_unknown_dataset_fails_clearly(tmp_path):
    with pytest.raises(CommandError, match="No dataset named"):
        call_command("export_split", "nope", str(tmp_path))
