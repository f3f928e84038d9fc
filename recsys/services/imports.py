"""Load a parsed dataset into the database: atomic (all or nothing) and idempotent."""

import dataclasses
import io
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Required, TypedDict, Unpack

import pandas as pd
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection, transaction
from django.db.models import Max
from django.utils.text import slugify

from recsys import jobs
from recsys.importers import ImportFormatError, ParsedDataset, check_one_format, parse
from recsys.models import Dataset, ErasedHistory, Interaction, InteractionSequence, Item, ItemTag
from recsys.services import artefacts
from recsys.services.history import erased_key
from recsys.signals import interactions_added
from recsys.vocabulary import item_kind_for_format

ProgressFn = Callable[[float, str], None]
MAX_NAME = Dataset._meta.get_field("name").max_length or 64


def _silent(percent: float, message: str = "") -> None:
    """Progress callback that reports nowhere."""

# Column order of the COPY stream.
INTERACTION_COLUMNS = ["sequence_id", "item_id", "timestamp", "position", "rating", "weight", "state", "source"]
COPY_CHUNK_ROWS = 100_000
# Checking foreign keys in one pass (see _foreign_keys_checked_in_one_pass) pays for new datasets of
# at least this many rows, unless the table already holds over RATIO times as many (it re-reads them all).
ONE_PASS_FOREIGN_KEY_CHECK_MIN_ROWS = 50_000
ONE_PASS_FOREIGN_KEY_CHECK_MAX_TABLE_RATIO = 10


class DatasetImportError(jobs.JobInputError):
    """Raised with a message a person can act on; the database is left unchanged."""


# What each role of a format with a fixed layout is read from (CSV and RecBole say it in ParsedDataset.field_mapping).
FIXED_FIELDS = {
    "ml-100k": {"user": "u.data: field 1 (user id)", "item": "u.data: field 2 (item id)",
                "rating": "u.data: field 3 (rating)", "timestamp": "u.data: field 4 (unix seconds)",
                "title": "u.item: field 2 (movie title)", "year": "u.item: field 3 (release date)",
                "categories": "u.item: the genre flags, named by u.genre"},
    "ml-1m": {"user": "ratings.dat: UserID", "item": "ratings.dat: MovieID", "rating": "ratings.dat: Rating",
              "timestamp": "ratings.dat: Timestamp", "title": "movies.dat: Title",
              "year": "movies.dat: the year in brackets after the title", "categories": "movies.dat: Genres"},
    "ml-latest": {"user": "ratings.csv: userId", "item": "ratings.csv: movieId", "rating": "ratings.csv: rating",
                  "timestamp": "ratings.csv: timestamp", "title": "movies.csv: title",
                  "year": "movies.csv: the year in brackets after the title", "categories": "movies.csv: genres"},
    "sasrec": {"user": "column 1", "item": "column 2"},
    "synthetic": dict.fromkeys(("user", "item", "rating", "timestamp", "title", "year", "categories"), "generated"),
}
FIELD_ROLES = {"user": "User", "item": "Item", "rating": "Rating", "timestamp": "Time", "title": "Title",
               "year": "Year", "categories": "Categories", "item_file_id": "Item id in the item file",
               "user_file_id": "User id in the user file"}
NOT_IN_FILES = {"rating": "none: interactions without a rating", "timestamp": "none: the order of the rows",
                "title": "none: each item is titled by its id", "year": "none", "categories": "none"}
RECBOLE_ROLES = {"interaction_user": "user", "interaction_item": "item", "item_id": "item_file_id"}


def field_mapping_of(parsed: ParsedDataset) -> list[list[str]]:
    """[[role, where it was read from], …] in a fixed order, for the administrator: which column of the files became
    the user, item, rating, time, title, year and categories, and which roles the files did not have."""
    names = [Path(name).name for name in parsed.source_files]
    found = dict(FIXED_FIELDS.get(parsed.format, {}))
    if parsed.format == "csv":
        found = {role: f"{', '.join(names)}: column “{column}”" for role, column in parsed.field_mapping.items()}
        if "title" in found:
            found["year"] = f"{found['title']}, the year in brackets after the title"
    elif parsed.format == "recbole":
        files = {suffix: ", ".join(name for name in names if name.endswith(suffix))
                 for suffix in (".inter", ".item", ".user")}
        for role, column in parsed.field_mapping.items():
            role = RECBOLE_ROLES.get(role, role)
            suffix = {"item_file_id": ".item", "title": ".item", "year": ".item", "categories": ".item",
                      "user_file_id": ".user"}.get(role, ".inter")
            found[role] = f"{files[suffix]}: field “{column}”"
    for role in _roles_found_empty(parsed) & found.keys():
        found[role] = f"none (looked for in {found[role]})"
    rows = []
    for role, label in FIELD_ROLES.items():
        if role in found:
            rows.append([label, found[role]])
        elif role in NOT_IN_FILES:
            rows.append([label, NOT_IN_FILES[role]])
    return rows


def _roles_found_empty(parsed: ParsedDataset) -> set[str]:
    """Item roles a field was read for but no item had (no title with a year in brackets, genres all empty)."""
    empty = set() if parsed.items["year"].notna().any() else {"year"}
    return empty if parsed.has_categories else empty | {"categories"}


@dataclass(frozen=True)
class ImportReport:
    """What an import read, for the person who started it (job result, command output)."""

    rows: int  # interaction rows in the files
    without_rating: int  # rows with no rating: an empty rating cell, or files with no rating column at all
    has_rating_column: bool
    warnings: tuple[str, ...] = ()
    field_mapping: tuple[tuple[str, str], ...] = ()  # field_mapping_of: (role, where it was read from)

    @classmethod
    def of(cls, parsed: ParsedDataset) -> "ImportReport":
        return cls(rows=len(parsed.interactions), without_rating=int(parsed.interactions["rating"].isna().sum()),
                   has_rating_column="rating" in parsed.field_mapping or parsed.interactions["rating"].notna().any(),
                   warnings=tuple(parsed.warnings),
                   field_mapping=tuple((role, source) for role, source in field_mapping_of(parsed)))

    def summary(self) -> str:
        """One line: how many rows were read and how many came without a rating."""
        text = f"{self.rows:,} rows read"
        if not self.has_rating_column:
            return text + " (no ratings in the files: implicit interactions)"
        if self.without_rating:
            return text + f"; {self.without_rating:,} had no rating and were imported without one"
        return text

    def as_result(self) -> dict:
        return {"rows": self.rows, "rows_without_rating": self.without_rating, "summary": self.summary(),
                "warnings": list(self.warnings), "field_mapping": [list(pair) for pair in self.field_mapping]}


class ImportOptions(TypedDict, total=False):
    """What every import entry point is told besides where the files are."""

    name: Required[str]
    format: str | None  # None: detected from the files
    title: str
    progress: ProgressFn | None
    source_name: str  # what the person calls the files (e.g. the ones they uploaded), used in messages instead
    item_kind: str | None  # Dataset.ItemKind; None: kept as stored, or for a new dataset taken from the format


def import_dataset(*, path: str | Path, **options: Unpack[ImportOptions]) -> Dataset:
    return import_dataset_reported(path=path, **options)[0]


def import_dataset_reported(*, path: str | Path, **options: Unpack[ImportOptions]) -> tuple[Dataset, ImportReport]:
    """``import_dataset`` that also says what it read (rows, rows without a rating, the parser's warnings)."""
    name, source_name = options["name"], options.get("source_name", "")
    _check_name(name)
    progress = options.get("progress") or _silent
    progress(2, f"Reading {source_name or path}")
    try:
        parsed = parse(path, format=options.get("format"),
                       progress=lambda done, total: progress(2 + 48 * done / max(total, 1), "Reading files"))
    except ImportFormatError as exc:
        raise DatasetImportError(_named(exc, Path(path), source_name)) from exc
    except FileNotFoundError as exc:
        raise DatasetImportError(f"File not found: {exc.filename or exc}") from exc
    _check_id_lengths(parsed)
    dataset, loaded = _load_kept(name, parsed, options.get("title", ""), progress, writing_at=50,
                                 item_kind=options.get("item_kind"))
    report = dataclasses.replace(ImportReport.of(parsed), warnings=tuple(loaded.warnings))  # rows: all the files hold
    return dataset, report


def _check_name(name: str) -> None:
    """A new dataset's name is a slug, as the admin's import form and edit form require (else it could be imported
    from the shell but never saved in the admin again)."""
    if Dataset.objects.filter(name=name).exists():
        return
    try:
        validate_slug(name)
    except ValidationError:
        raise DatasetImportError(
            f"{name[:70]!r} is not a dataset name: use letters, digits, hyphens and underscores only, "
            f"e.g. {slugify(name)[:MAX_NAME] or 'my-dataset'!r}.") from None
    if len(name) > MAX_NAME:
        raise DatasetImportError(f"A dataset name has at most {MAX_NAME} characters; {name[:20]!r}… has {len(name)}.")


def import_uploaded_dataset(*, uploads: list[str], **options: Unpack[ImportOptions]) -> tuple[Dataset, ImportReport]:
    """Import files an admin uploaded. They are stored through the storage API (the worker running this may be
    on another machine), copied into a temporary folder here, and deleted from the storage once imported;
    after a failure they stay, so a retry finds them."""
    try:
        with artefacts.downloaded(uploads) as folder:
            try:
                check_one_format(folder)
            except ImportFormatError as exc:
                raise DatasetImportError(_named(exc, folder, options.get("source_name", ""))) from exc
            imported = import_dataset_reported(path=folder, **options)
    except artefacts.ArtefactMissing as exc:
        raise DatasetImportError(f"The uploaded files are no longer stored ({exc}); upload them again.") from exc
    artefacts.delete(uploads)
    return imported


def _named(error: ImportFormatError, path: Path, source_name: str) -> str:
    """An error about the upload folder itself names the uploaded files, not the folder's random name."""
    if source_name and Path(error.path) == path:
        return str(error).replace(path.name or str(path), source_name, 1)
    return str(error)


ID_MAX_CHARS = 64  # Item.external_id and InteractionSequence.external_user_id


def _check_id_lengths(parsed: ParsedDataset) -> None:
    files = ", ".join(Path(name).name for name in parsed.source_files)
    for what, ids in (("item", parsed.items["external_id"]), ("user", parsed.interactions["user_id"])):
        long = ids[ids.astype(str).str.len() > ID_MAX_CHARS]
        if len(long):
            first = str(long.iloc[0])
            raise DatasetImportError(f"{files}: the {what} id {first[:20]!r}… is {len(first):,} characters long; "
                                     f"ids may have at most {ID_MAX_CHARS}.")


def _without_erased_histories(name: str, parsed: ParsedDataset) -> ParsedDataset:
    """The files without the rows (and tags and attributes) of members who erased their data from this dataset,
    with a warning saying how many were left out."""
    keys = set(ErasedHistory.objects.filter(dataset__name=name).values_list("user_key", flat=True))
    if not keys:
        return parsed
    dataset_id = Dataset.objects.values_list("pk", flat=True).get(name=name)
    users = pd.Series(parsed.interactions["user_id"].unique())
    erased = set(users[users.map(lambda user: erased_key(dataset_id, user) in keys)])
    if not erased:
        return parsed
    keep = ~parsed.interactions["user_id"].isin(erased)
    left_out = int((~keep).sum())
    warnings = [*parsed.warnings, f"{left_out:,} rows of {len(erased):,} member(s) who erased their data were left out"]
    return dataclasses.replace(
        parsed, interactions=parsed.interactions[keep].reset_index(drop=True), warnings=warnings,
        users=None if parsed.users is None else parsed.users[~parsed.users["user_id"].astype(str).isin(erased)],
        tags=None if parsed.tags is None else parsed.tags[~parsed.tags["user_id"].isin(erased)])


def load_parsed(*, name: str, parsed: ParsedDataset, title: str = "", progress: ProgressFn | None = None) -> Dataset:
    return _load_kept(name, parsed, title, progress or _silent, writing_at=0)[0]


def _load_kept(name: str, parsed: ParsedDataset, title: str, progress: ProgressFn, writing_at: float,
               item_kind: str | None = None) -> tuple[Dataset, ParsedDataset]:
    """Load what ``parsed`` holds but for the histories of members who erased their data; returns the dataset and
    what was loaded (its warnings say how many rows were left out)."""
    if parsed.interactions.empty:
        raise DatasetImportError("The files contain no interactions.")
    parsed = _without_erased_histories(name, parsed)
    progress(writing_at, f"Writing {len(parsed.interactions):,} interactions")
    with transaction.atomic():
        dataset = _upsert_dataset(name, parsed, title, item_kind)
        last_before = Interaction.objects.aggregate(pk=Max("pk"))["pk"] or 0
        item_ids = _load_items(dataset, parsed.items)
        sequence_ids = _load_sequences(dataset, parsed)
        frame = _interaction_frame(parsed.interactions, item_ids, sequence_ids)
        frame = _rows_not_held(dataset, frame)
        _insert_interactions(dataset, frame)
        _load_tags(parsed.tags, item_ids, sequence_ids)
        _refresh_counts(dataset)
        members = _members_with_new_interactions(dataset, last_before)
        if members:
            interactions_added.send(sender=Interaction, dataset=dataset, user_ids=members)
    _analyze_tables()
    progress(100, f"Imported {dataset.n_interactions:,} interactions")
    return dataset, parsed


def _members_with_new_interactions(dataset: Dataset, last_before: int) -> list[int]:
    """Accounts linked to histories of this dataset that the import added rows to (new rows get higher ids)."""
    linked = InteractionSequence.objects.filter(dataset=dataset, user__isnull=False, interactions__pk__gt=last_before)
    return sorted(set(linked.values_list("user_id", flat=True)))


def _analyze_tables() -> None:
    """Refresh PostgreSQL's statistics after a bulk load, or the next big read gets a nested-loop plan."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in (Item, InteractionSequence, Interaction):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _upsert_dataset(name: str, parsed: ParsedDataset, title: str, item_kind: str | None) -> Dataset:
    dataset, created = Dataset.objects.select_for_update().get_or_create(name=name, defaults={"title": title or name})
    if item_kind or created:  # more files for a dataset keep what an administrator chose for it
        dataset.item_kind = item_kind or item_kind_for_format(parsed.format)
    _check_same_kind(dataset, parsed)
    dataset.source_format = parsed.format
    dataset.source_checksum = parsed.checksum
    dataset.has_timestamps = parsed.has_timestamps
    dataset.has_categories = parsed.has_categories
    dataset.field_mapping = field_mapping_of(parsed)
    _widen_rating_range(dataset, parsed.interactions["rating"])
    if title:
        dataset.title = title
    dataset.save()
    return dataset


def _widen_rating_range(dataset: Dataset, ratings: pd.Series) -> None:
    """The dataset's rating range (its scale, ``recsys.ratings.scale_of``) also covers these files' ratings."""
    given = ratings.dropna()
    if given.empty:
        return
    low, high = float(given.min()), float(given.max())
    if dataset.rating_low is not None and dataset.rating_high is not None:
        low, high = min(dataset.rating_low, low), max(dataset.rating_high, high)
    if high > max(low, 0):  # one rating value (a single rated row) is no scale: leave it to stars
        dataset.rating_low, dataset.rating_high = low, high


def _check_same_kind(dataset: Dataset, parsed: ParsedDataset) -> None:
    """Files added to a dataset that holds interactions must have what it has: timestamps or categories that
    only some interactions or items had would be switched off (or claimed) for all of them."""
    if not dataset.n_interactions:
        return
    for flag, what in (("has_timestamps", "timestamps"), ("has_categories", "item categories")):
        held, brought = getattr(dataset, flag), getattr(parsed, flag)
        if held != brought:
            raise DatasetImportError(
                f"{dataset.name} already holds {dataset.n_interactions:,} interactions "
                f"{'with' if held else 'without'} {what}, and these files have {'them' if brought else 'none'}: "
                f"import them under a new name (or delete {dataset.name} first).")


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
    """Database ids, in (sequence, position) order so the indexes are filled in order."""
    frame = pd.DataFrame(
        {
            "sequence_id": interactions["user_id"].map(sequence_ids).astype("int64"),
            "item_id": interactions["item_id"].map(item_ids).astype("int64"),
            "timestamp": interactions["timestamp"].astype("int64"),
            "position": interactions["position"].astype("int64"),
            "rating": interactions["rating"].astype("float64"),
        }
    )
    return frame.sort_values(["sequence_id", "position"], ignore_index=True)


def _rows_not_held(dataset: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """The file's rows the dataset does not hold yet, matched by what they are, never by where they stand in the file.

    A row already imported is left exactly as it is (state, weight and rating: a member's corrections stay on
    their interaction); rows the dataset holds that the files no longer have are kept (imports never delete).

    * With timestamps, a row is its (user, item, timestamp). Exact duplicates (the same user, item and
      timestamp more than once) are told apart by their order: the k-th such row in the files is the k-th
      such row held (oldest first); the files' surplus ones are new.
    * Without timestamps (ordinal: the time is the row number, which moves when rows are inserted above), a user's
      rows already imported must be the first rows of that user in the files, in the same order; the rest are
      appended after everything the user's history holds. Anything else is refused (DatasetImportError) and
      nothing changes.

    New rows get positions after every position the dataset holds, so they never collide with held rows and,
    at an equal timestamp, come after them.
    """
    held = pd.DataFrame.from_records(
        Interaction.objects.filter(sequence__dataset=dataset, source=Interaction.Source.IMPORT)
        .order_by("sequence_id", *Interaction.CHRONOLOGICAL)
        .values_list("sequence_id", "item_id", "timestamp"),
        columns=["sequence_id", "item_id", "timestamp"],
    )
    if held.empty:
        return frame
    if dataset.has_timestamps:
        new = _unmatched_by_identity(frame, held)
    else:
        new = _appended_to_ordinal_histories(dataset, frame, held)
    last_position = Interaction.objects.filter(sequence__dataset=dataset).aggregate(p=Max("position"))["p"]
    new = new.copy()
    new["position"] = new["position"] + (0 if last_position is None else last_position + 1)
    return new.reset_index(drop=True)


def _unmatched_by_identity(frame: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    key = ["sequence_id", "item_id", "timestamp"]
    held = held.astype("int64")
    held["occurrence"] = held.groupby(key, sort=False).cumcount()
    frame = frame.copy()
    frame["occurrence"] = frame.groupby(key, sort=False).cumcount()  # frame is in file order within a user
    merged = frame.merge(held, on=[*key, "occurrence"], how="left", indicator=True)
    return frame[(merged["_merge"] == "left_only").to_numpy()].drop(columns="occurrence")


def _appended_to_ordinal_histories(dataset: Dataset, frame: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    held = held.astype("int64")
    held["rank"] = held.groupby("sequence_id", sort=False).cumcount()
    frame = frame.copy()
    frame["rank"] = frame.groupby("sequence_id", sort=False).cumcount()
    compared = held.merge(frame[["sequence_id", "rank", "item_id"]], on=["sequence_id", "rank"], how="left",
                          suffixes=("", "_file"))
    differs = compared[compared["item_id_file"].isna() | (compared["item_id"] != compared["item_id_file"])]
    if len(differs):
        _refuse_ordinal(dataset, differs.iloc[0], held)
    counts = held.groupby("sequence_id").size()
    new = frame[frame["rank"].to_numpy() >= frame["sequence_id"].map(counts).fillna(0).to_numpy()].copy()
    # After everything the history holds (its own additions too), in the files' order.
    last = dict(Interaction.objects.filter(sequence_id__in=new["sequence_id"].unique().tolist())
                .values("sequence_id").annotate(ts=Max("timestamp")).values_list("sequence_id", "ts"))
    step = new.groupby("sequence_id", sort=False).cumcount() + 1
    start = new["sequence_id"].map(last)
    new["timestamp"] = (start + step).where(start.notna(), new["timestamp"]).astype("int64")
    return new.drop(columns="rank")


def _refuse_ordinal(dataset: Dataset, row: pd.Series, held: pd.DataFrame) -> None:
    sequence = InteractionSequence.objects.get(pk=int(row["sequence_id"]))
    in_file = None if pd.isna(row["item_id_file"]) else int(row["item_id_file"])
    items = dict(Item.objects.filter(pk__in=[int(row["item_id"]), in_file or 0]).values_list("pk", "external_id"))
    count = int((held["sequence_id"] == row["sequence_id"]).sum())
    where = f"its interaction {int(row['rank']) + 1} is item {items[int(row['item_id'])]}"
    found = ("these files have fewer rows for that user" if in_file is None
             else f"these files have item {items[in_file]} there")
    raise DatasetImportError(
        f"{dataset.name} has no timestamps, so a re-import can only add rows at the end of each user's history; "
        f"user {sequence.external_user_id} already has {count:,} imported interactions, {where}, and {found}. "
        f"Nothing was imported: keep the rows already imported first and in the same order, or import the files "
        f"under a new name.")


def _insert_interactions(dataset: Dataset, frame: pd.DataFrame) -> None:
    table = Interaction._meta.db_table
    if frame.empty:
        return
    if connection.vendor != "postgresql":
        _bulk_insert_orm(frame)
    elif Interaction.objects.filter(sequence__dataset=dataset).exists():
        _copy_rows(table, frame)  # positions come after every held one (_rows_not_held): nothing can collide
    elif _one_pass_foreign_key_check_pays(table, len(frame)):
        with _foreign_keys_checked_in_one_pass(table):
            _copy_rows(table, frame)
    else:  # a new dataset: nothing to collide with, so COPY straight into the table
        _copy_rows(table, frame)


def _bulk_insert_orm(frame: pd.DataFrame) -> None:
    ratings = frame["rating"].astype(object).where(frame["rating"].notna(), None)
    rows = zip(frame["sequence_id"], frame["item_id"], frame["timestamp"], frame["position"], ratings)
    Interaction.objects.bulk_create(
        (Interaction(sequence_id=s, item_id=i, timestamp=t, position=p, rating=r) for s, i, t, p, r in rows),
        batch_size=5000,
    )


def _copy_rows(table: str, frame: pd.DataFrame) -> None:
    """COPY in text format, a chunk at a time (formatting a chunk is fast; the whole text never exists)."""
    columns = ", ".join(INTERACTION_COLUMNS)
    with connection.cursor() as cursor:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            text = _copy_text(frame.iloc[start : start + COPY_CHUNK_ROWS])
            cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text))


def _copy_text(chunk: pd.DataFrame) -> str:
    """Tab-separated COPY lines; an unknown rating is \\N (NULL)."""
    ratings = ["\\N" if rating != rating else repr(rating) for rating in chunk["rating"].tolist()]
    constant = f"\t1.0\t{Interaction.State.ACTIVE.value}\t{Interaction.Source.IMPORT.value}\n"
    columns = (chunk[name].tolist() for name in ("sequence_id", "item_id", "timestamp", "position"))
    return "".join(
        f"{sequence}\t{item}\t{timestamp}\t{position}\t{rating}{constant}"
        for sequence, item, timestamp, position, rating in zip(*columns, ratings)
    )


def _load_tags(tags: pd.DataFrame | None, item_ids: dict, sequence_ids: dict) -> None:
    """Tags of known users on known items (MovieLens tags.csv); re-importing adds no duplicates."""
    if tags is None or tags.empty:
        return
    known = tags["user_id"].isin(sequence_ids) & tags["item_id"].isin(item_ids)
    ItemTag.objects.bulk_create(
        (
            ItemTag(item_id=item_ids[row.item_id], sequence_id=sequence_ids[row.user_id], tag=str(row.tag)[:255],
                    timestamp=int(row.timestamp))
            for row in tags[known].itertuples(index=False)
        ),
        batch_size=5000,
        ignore_conflicts=True,
    )


def _one_pass_foreign_key_check_pays(table: str, new_rows: int) -> bool:
    if new_rows < ONE_PASS_FOREIGN_KEY_CHECK_MIN_ROWS:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        estimated_rows = max(cursor.fetchone()[0], 0)  # -1: never analysed
    return estimated_rows <= new_rows * ONE_PASS_FOREIGN_KEY_CHECK_MAX_TABLE_RATIO


@contextmanager
def _foreign_keys_checked_in_one_pass(table: str):
    """Drop ``table``'s foreign keys around a bulk COPY and add them back, which validates every row in
    one join over the table instead of one lookup per row and key (about half a 1M-row import's time).

    Trade-off: dropping a foreign key takes ACCESS EXCLUSIVE locks on ``table`` and the tables it
    references until commit, so their readers wait for the import. All of it rolls back on failure.
    """
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f'",
            [table],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses tables with pending checks
        for name, _ in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        yield
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's INITIALLY DEFERRED


def _refresh_counts(dataset: Dataset) -> None:
    dataset.n_items = dataset.items.count()
    dataset.n_users = dataset.sequences.count()
    dataset.n_interactions = Interaction.objects.filter(sequence__dataset=dataset).count()
    dataset.save(update_fields=["n_items", "n_users", "n_interactions", "updated_at"])
