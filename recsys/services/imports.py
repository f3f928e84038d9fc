"""Load a parsed dataset into the database: atomic (all or nothing) and idempotent."""

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from django.db import connection, transaction

from recsys.importers import ImportFormatError, ParsedDataset, parse
from recsys.models import Dataset, Interaction, InteractionSequence, Item

ProgressFn = Callable[[float, str], None]

INTERACTION_COLUMNS = ["sequence_id", "item_id", "timestamp", "position", "rating", "weight", "state", "source"]


class DatasetImportError(Exception):
    """Raised with a message a person can act on; the database is left unchanged."""


def import_dataset(
    *,
    name: str,
    path: str | Path,
    format: str | None = None,
    title: str = "",
    progress: ProgressFn | None = None,
) -> Dataset:
    progress = progress or (lambda percent, message="": None)
    progress(2, f"Reading {path}")
    try:
        parsed = parse(
            path, format=format, progress=lambda done, total: progress(2 + 48 * done / max(total, 1), "Reading files")
        )
    except ImportFormatError as exc:
        raise DatasetImportError(str(exc)) from exc
    except FileNotFoundError as exc:
        raise DatasetImportError(f"File not found: {exc.filename or exc}") from exc
    progress(50, f"Writing {len(parsed.interactions):,} interactions")
    return load_parsed(name=name, parsed=parsed, title=title, progress=progress)


def load_parsed(*, name: str, parsed: ParsedDataset, title: str = "", progress: ProgressFn | None = None) -> Dataset:
    progress = progress or (lambda percent, message="": None)
    if parsed.interactions.empty:
        raise DatasetImportError("The files contain no interactions.")
    with transaction.atomic():
        dataset = _upsert_dataset(name, parsed, title)
        item_ids = _load_items(dataset, parsed.items)
        sequence_ids = _load_sequences(dataset, parsed)
        frame = _interaction_frame(parsed.interactions, item_ids, sequence_ids)
        _insert_interactions(frame)
        _refresh_counts(dataset)
    progress(100, f"Imported {dataset.n_interactions:,} interactions")
    return dataset


def _upsert_dataset(name: str, parsed: ParsedDataset, title: str) -> Dataset:
    dataset, _ = Dataset.objects.select_for_update().get_or_create(name=name, defaults={"title": title or name})
    dataset.source_format = parsed.format
    dataset.source_checksum = parsed.checksum
    dataset.has_timestamps = parsed.has_timestamps
    dataset.has_categories = parsed.has_categories
    if title:
        dataset.title = title
    dataset.save()
    return dataset


def _load_items(dataset: Dataset, items: pd.DataFrame) -> dict[str, int]:
    existing = dict(dataset.items.values_list("external_id", "id"))
    new = items[~items["external_id"].isin(existing)]
    Item.objects.bulk_create(
        (
            Item(
                dataset=dataset,
                external_id=row.external_id,
                title=str(row.title)[:300],
                year=None if pd.isna(row.year) else int(row.year),
                categories="|".join(row.categories)[:500],
            )
            for row in new.itertuples(index=False)
        ),
        batch_size=2000,
    )
    return dict(dataset.items.values_list("external_id", "id"))


def _load_sequences(dataset: Dataset, parsed: ParsedDataset) -> dict[str, int]:
    existing = set(dataset.sequences.values_list("external_user_id", flat=True))
    attributes = _user_attributes(parsed.users)
    new_users = sorted(set(parsed.interactions["user_id"].unique()) - existing)
    InteractionSequence.objects.bulk_create(
        (
            InteractionSequence(dataset=dataset, external_user_id=user, attributes=attributes.get(user, {}))
            for user in new_users
        ),
        batch_size=2000,
    )
    return dict(dataset.sequences.values_list("external_user_id", "id"))


def _user_attributes(users: pd.DataFrame | None) -> dict[str, dict]:
    if users is None or users.empty:
        return {}
    users = users.astype({"user_id": str}).set_index("user_id")
    users = users.astype(object).where(users.notna(), None)
    return users.to_dict(orient="index")


def _interaction_frame(interactions: pd.DataFrame, item_ids: dict, sequence_ids: dict) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "sequence_id": interactions["user_id"].map(sequence_ids).astype("int64"),
            "item_id": interactions["item_id"].map(item_ids).astype("int64"),
            "timestamp": interactions["timestamp"].astype("int64"),
            "position": interactions["position"].astype("int64"),
            "rating": interactions["rating"].astype("float64"),
        }
    )
    frame["weight"] = 1.0
    frame["state"] = Interaction.State.ACTIVE
    frame["source"] = Interaction.Source.IMPORT
    return frame[INTERACTION_COLUMNS]


def _insert_interactions(frame: pd.DataFrame) -> None:
    if connection.vendor == "postgresql":
        _copy_insert_postgresql(frame)
    else:
        _bulk_insert_orm(frame)


def _bulk_insert_orm(frame: pd.DataFrame) -> None:
    ratings = frame["rating"].astype(object).where(frame["rating"].notna(), None)
    rows = zip(frame["sequence_id"], frame["item_id"], frame["timestamp"], frame["position"], ratings)
    Interaction.objects.bulk_create(
        (Interaction(sequence_id=s, item_id=i, timestamp=t, position=p, rating=r) for s, i, t, p, r in rows),
        batch_size=5000,
        ignore_conflicts=True,
    )


def _copy_insert_postgresql(frame: pd.DataFrame) -> None:
    """COPY into a temporary table, then insert what is not there yet (idempotent re-import)."""
    table = Interaction._meta.db_table
    columns = ", ".join(INTERACTION_COLUMNS)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N", sep="\t")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE import_interaction (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        cursor.execute("ALTER TABLE import_interaction DROP COLUMN id")
        cursor.cursor.copy_expert(
            f"COPY import_interaction ({columns}) FROM STDIN WITH (FORMAT text, NULL '\\N')", buffer
        )
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM import_interaction "
            "ON CONFLICT (sequence_id, position) DO NOTHING"
        )
        cursor.execute("DROP TABLE import_interaction")


def _refresh_counts(dataset: Dataset) -> None:
    dataset.n_items = dataset.items.count()
    dataset.n_users = dataset.sequences.count()
    dataset.n_interactions = Interaction.objects.filter(sequence__dataset=dataset).count()
    dataset.save(update_fields=["n_items", "n_users", "n_interactions", "updated_at"])
