"""The real benchmark files under /work/shared/data, when this machine has them (skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from recsys.importers import detect_format, parse

DATA = Path("/work/shared/data")


def require(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path


@pytest.mark.parametrize(("folder", "expected_format"), [("ml-100k", "ml-100k"), ("ml-100k-recbole", "recbole")])
def test_real_ml100k(folder, expected_format):
    path = require(folder)
    assert detect_format(path) == expected_format
    dataset = parse(path)
    assert dataset.format == expected_format
    assert dataset.interactions["user_id"].nunique() == 943
    assert len(dataset.items) == 1682
    assert len(dataset.interactions) == 100_000
    assert len(dataset.users) == 943
    assert dataset.has_timestamps and dataset.has_categories
    assert dataset.warnings == []


def test_real_ml100k_formats_agree():
    original, recbole = parse(require("ml-100k")), parse(require("ml-100k-recbole"))
    columns = ["user_id", "item_id", "timestamp", "rating"]
    pd.testing.assert_frame_equal(original.interactions[columns], recbole.interactions[columns])
    merged = original.items.merge(recbole.items, on="external_id", suffixes=("_ml", "_rb"))
    assert (merged["categories_ml"] == merged["categories_rb"]).all()


def test_real_ml_latest_small():
    dataset = parse(require("ml-latest-small"))
    assert dataset.format == "ml-latest"
    assert (dataset.n_users, dataset.n_items, dataset.n_interactions) == (610, 9742, 100_836)
    assert len(dataset.tags) == 3683
