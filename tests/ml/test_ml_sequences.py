import numpy as np
import pandas as pd
import pytest

from recsys.ml.sequences import (
    ItemIndex,
    build_sequences,
    full_sequences,
    histories_from_frame,
    leave_one_out,
    next_item_examples,
    pad_left,
    write_recbole_split,
    write_sasrec_file,
)

HISTORIES = {
    "a": ["x", "y", "z", "w"],
    "b": ["y", "x"],
    "c": [("z", 1.0), ("q", 0.0), ("x", 0.5), ("y", 1.0)],
}


def rows(arrays):
    return [np.asarray(array).tolist() for array in arrays]


@pytest.fixture
def built():
    sequences, index, unknown = build_sequences(HISTORIES)
    return sequences, index, unknown, leave_one_out(sequences)


def test_item_index_round_trip_and_unknown_keys():
    index = ItemIndex.fit(["b", "a", "b", "c"])
    assert index.keys == ["b", "a", "c"] and len(index) == 3
    ids, unknown = index.encode(["a", "zzz", "c"])
    assert ids.tolist() == [2, 3] and unknown == ["zzz"]
    assert index.decode([1, 3]) == ["b", "c"]
    assert ItemIndex.from_dict(index.to_dict()).keys == index.keys
    with pytest.raises(KeyError):
        index.key_of(0)


def test_build_drops_weight_zero_items_from_sequence_and_index(built):
    sequences, index, unknown, _ = built
    assert index.keys == ["x", "y", "z", "w"]  # "q" only ever had weight 0
    assert rows(sequences.items) == [[1, 2, 3, 4], [2, 1], [3, 1, 2]]
    assert rows(sequences.weights)[2] == [1.0, 0.5, 1.0]
    assert unknown == []


def test_build_with_existing_index_reports_unknown_items():
    index = ItemIndex(["x", "y"])
    sequences, _, unknown = build_sequences({"u": ["x", "new", "y"]}, index)
    assert rows(sequences.items) == [[1, 2]] and unknown == ["new"]


def test_empty_data_and_bad_weights_raise_clear_errors():
    with pytest.raises(ValueError, match="no histories"):
        build_sequences({})
    with pytest.raises(ValueError, match="weight > 0"):
        build_sequences({"u": [("x", 0.0)]})
    with pytest.raises(ValueError, match="outside"):
        build_sequences({"u": [("x", 1.5)]})


def test_leave_one_out_split_by_hand(built):
    *_, split = built
    assert split.train.users == ["a", "b", "c"]
    assert rows(split.train.items) == [[1, 2], [2, 1], [3]]
    assert split.train_only_users == ["b"]  # fewer than 3 interactions
    assert split.valid.histories.users == ["a", "c"] == split.test.histories.users
    assert rows(split.valid.histories.items) == [[1, 2], [3]]
    assert split.valid.targets.tolist() == [3, 1]
    assert rows(split.test.histories.items) == [[1, 2, 3], [3, 1]]
    assert rows(split.test.histories.weights)[1] == [1.0, 0.5]
    assert split.test.targets.tolist() == [4, 2]
    assert rows(split.test.interacted) == [[1, 2, 3, 4], [1, 2, 3]]


def test_split_without_any_long_enough_user_is_an_error():
    sequences, _, _ = build_sequences({"u": ["x", "y"]})
    with pytest.raises(ValueError, match="3 interactions"):
        leave_one_out(sequences)


def test_full_sequences_reassemble_the_split(built):
    sequences, *_, split = built
    whole = full_sequences(split)
    assert rows(whole.items) == rows(sequences.items)
    assert rows(whole.weights) == rows(sequences.weights)


def test_pad_left_truncates_to_the_last_values():
    padded = pad_left([np.array([1, 2, 3]), np.array([4]), np.array([], dtype=int)], 2)
    assert padded.tolist() == [[2, 3], [0, 4], [0, 0]]


def test_next_item_examples_shift_by_one_and_keep_last_steps(built):
    sequences, *_ = built
    examples = next_item_examples(sequences, max_len=2)
    assert rows(examples.inputs) == [[2, 3], [2], [3, 1]]
    assert rows(examples.targets) == [[3, 4], [1], [1, 2]]
    assert rows(examples.weights)[2] == [1.0, 0.5]


def test_histories_from_frame_orders_by_timestamp_then_source_position():
    frame = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v"],
            "item_id": ["late", "tie-second", "tie-first", "only"],
            "timestamp": np.array([9, 5, 5, 1], dtype=np.int64),
            "position": np.array([0, 2, 1, 3], dtype=np.int64),
            "rating": [1.0, 0.5, np.nan, 1.0],
        }
    )
    histories = histories_from_frame(frame)
    assert histories == {"u": ["tie-first", "tie-second", "late"], "v": ["only"]}


def read_inter(path):
    frame = pd.read_csv(path, sep="\t", dtype=str)
    assert list(frame.columns) == ["user_id:token", "item_id:token", "timestamp:float"]
    return frame


def test_recbole_export_matches_the_split(built, tmp_path):
    _, index, _, split = built
    paths = write_recbole_split(split, index, tmp_path, "toy")
    train = read_inter(paths["train"])
    assert train.groupby("user_id:token")["item_id:token"].apply(list).to_dict() == {
        "a": ["x", "y"],
        "b": ["y", "x"],
        "c": ["z"],
    }
    assert train["timestamp:float"].tolist() == ["0", "1", "0", "1", "0"]
    valid, test = read_inter(paths["valid"]), read_inter(paths["test"])
    assert valid.values.tolist() == [["a", "z", "2"], ["c", "x", "1"]]
    assert test.values.tolist() == [["a", "w", "3"], ["c", "y", "2"]]


def test_sasrec_export_replays_to_the_same_split(built, tmp_path):
    sequences, *_, split = built
    lines = write_sasrec_file(split, tmp_path / "toy.txt").read_text().split()
    pairs = np.asarray(lines, dtype=int).reshape(-1, 2)
    per_user = [pairs[pairs[:, 0] == user, 1].tolist() for user in (1, 2, 3)]
    assert per_user == rows(sequences.items)


def test_split_and_exports_are_identical_across_runs(tmp_path):
    outputs = []
    for run in range(2):
        sequences, index, _ = build_sequences(HISTORIES)
        split = leave_one_out(sequences)
        paths = write_recbole_split(split, index, tmp_path / str(run), "toy")
        sasrec = write_sasrec_file(split, tmp_path / str(run) / "toy.txt")
        outputs.append([p.read_bytes() for p in (*paths.values(), sasrec)])
    assert outputs[0] == outputs[1]
