"""Artefacts that workers write and other machines read, all through Django's storage API (STORAGES["default"]).

The embedded default stores them on the local filesystem; production points the default storage at an
S3-compatible store (MinIO in docker-compose.yml), so workers on several machines share them.

- Names are content-addressed: ``<prefix>/<sha256><suffix>``. Saving is a single storage write of complete
  content (a temporary file is packed first), so a half-written artefact is never visible under its name.
- Code that needs local files (Keras loads weights from a path) calls :func:`local_directory`, which downloads
  into ``ARTEFACT_CACHE_DIR/<sha256>``, checks the hash, unpacks into a temporary folder and renames it into
  place; the least recently used entries beyond ``HIKMAX["ARTEFACT_CACHE_ENTRIES"]`` are removed.
- Deleting a model, a run or a dataset deletes its artefacts through the storage API, once the deletion is
  committed (:func:`delete_after_commit`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction

log = logging.getLogger(__name__)

ARCHIVE_SUFFIX = ".tar"
_HASH = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class ArtefactMissing(FileNotFoundError):
    """The artefact a row names is not in the storage (or the name is not an artefact name)."""


class ArtefactCorrupt(ValueError):
    """What the storage returned does not have the content hash its name promises."""


def storage() -> Storage:
    return storages["default"]


def content_hash(name: str) -> str:
    """The sha256 a content-addressed name carries."""
    digest = PurePosixPath(name).name.split(".", 1)[0]
    if not _HASH.match(digest) or name.startswith("/"):
        raise ArtefactMissing(f"{name!r} is not the name of a stored artefact.")
    return digest


def save_bytes(prefix: str, data: bytes, suffix: str = "") -> str:
    """Store ``data`` under ``<prefix>/<sha256><suffix>`` and return that name."""
    return _save(prefix, hashlib.sha256(data).hexdigest(), suffix, ContentFile(data))


def save_file(prefix: str, path: Path, suffix: str = "") -> str:
    """Store a local file's content under ``<prefix>/<sha256><suffix>``."""
    with open(path, "rb") as handle:
        digest = _file_hash(handle)
        handle.seek(0)
        return _save(prefix, digest, suffix, File(handle))


def save_directory(prefix: str, directory: Path) -> str:
    """Pack a folder (e.g. a saved Keras model) into one archive and store it; returns the archive's name."""
    with tempfile.TemporaryDirectory(prefix="hikmax-pack-") as scratch:
        archive = Path(scratch) / "artefact.tar"
        with tarfile.open(archive, "w") as tar:
            for path in sorted(directory.rglob("*")):
                tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
        return save_file(prefix, archive, ARCHIVE_SUFFIX)


def _save(prefix: str, digest: str, suffix: str, content: File) -> str:
    name = f"{prefix.strip('/')}/{digest}{suffix}"
    store = storage()
    if store.exists(name):  # the same content is stored already
        return name
    saved = store.save(name, content)
    if saved != name:  # another process stored the same content meanwhile; keep one copy
        store.delete(saved)
    return name


def read_bytes(name: str) -> bytes:
    """The whole content of a stored artefact, checked against its hash."""
    digest = content_hash(name)
    try:
        with storage().open(name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise ArtefactMissing(f"The artefact {name} is missing from the storage.") from exc
    if hashlib.sha256(data).hexdigest() != digest:
        raise ArtefactCorrupt(f"The artefact {name} does not match its content hash.")
    return data


def cache_dir() -> Path:
    path = Path(settings.ARTEFACT_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_directory(name: str) -> Path:
    """A local folder with the unpacked content of a stored archive (downloaded once per machine)."""
    digest = content_hash(name)
    root = cache_dir()
    target = root / digest
    for _attempt in range(3):
        _unpack_into_cache(name, digest, root, target)
        try:
            os.utime(target)  # most recently used
        except FileNotFoundError:  # another process pruned it just now
            continue
        _prune(root, keep=digest)
        return target
    raise ArtefactMissing(f"Could not keep the artefact {name} unpacked in {root}.")


def _unpack_into_cache(name: str, digest: str, root: Path, target: Path) -> None:
    if not target.is_dir():
        with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as scratch:
            archive = Path(scratch) / "artefact.tar"
            try:
                with storage().open(name, "rb") as source, open(archive, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
            except FileNotFoundError as exc:
                raise ArtefactMissing(f"The artefact {name} is missing from the storage.") from exc
            with open(archive, "rb") as handle:
                if _file_hash(handle) != digest:
                    raise ArtefactCorrupt(f"The artefact {name} does not match its content hash.")
            unpacked = Path(scratch) / "unpacked"
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
            with contextlib.suppress(FileExistsError, OSError):
                if not target.is_dir():
                    unpacked.rename(target)  # atomic: the folder appears complete or not at all
        if not target.is_dir():
            raise ArtefactMissing(f"Could not unpack the artefact {name} into {root}.")


def evict(names: Iterable[str]) -> None:
    """Drop this machine's unpacked copies of these artefacts."""
    root = Path(settings.ARTEFACT_CACHE_DIR)
    for name in names:
        with contextlib.suppress(ArtefactMissing):
            shutil.rmtree(root / content_hash(name), ignore_errors=True)


def _prune(root: Path, keep: str) -> None:
    limit = max(int(settings.HIKMAX.get("ARTEFACT_CACHE_ENTRIES", 8)), 1)
    used: list[tuple[float, Path]] = []
    for path in root.iterdir():
        if _HASH.match(path.name) and path.name != keep:
            with contextlib.suppress(FileNotFoundError):  # removed by another process meanwhile
                used.append((path.stat().st_mtime, path))
    used.sort(reverse=True)
    for _, stale in used[limit - 1:]:
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def downloaded(names: Iterable[str]) -> Iterator[Path]:
    """A temporary local folder holding copies of stored files (by their base names); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="hikmax-files-", dir=cache_dir()) as scratch:
        folder = Path(scratch)
        for name in names:
            try:
                with storage().open(name, "rb") as source, open(folder / PurePosixPath(name).name, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
            except FileNotFoundError as exc:
                raise ArtefactMissing(f"The stored file {name} is missing.") from exc
        yield folder


def save_uploads(prefix: str, uploads: Iterable) -> list[str]:
    """Store uploaded files under ``<prefix>/<their base names>``; returns the stored names."""
    store = storage()
    return [store.save(f"{prefix.strip('/')}/{PurePosixPath(upload.name).name}", upload) for upload in uploads]


def delete(names: Iterable[str], prefixes: Iterable[str] = ()) -> None:
    """Delete stored artefacts now: the named ones and every file under the prefixes (the storage API only)."""
    store = storage()
    names = [name for name in names if name]
    for prefix in prefixes:
        names.extend(_files_under(store, prefix.strip("/")))
    names = list(dict.fromkeys(names))
    for name in names:
        try:
            store.delete(name)
        except Exception:  # a storage outage must not undo a committed deletion; the next one tries again
            log.exception("Could not delete the artefact %s", name)
    evict(name for name in names if _HASH.match(PurePosixPath(name).name.split(".", 1)[0]))


def delete_after_commit(names: Iterable[str], prefixes: Iterable[str] = ()) -> None:
    names, prefixes = list(names), list(prefixes)
    if names or prefixes:
        transaction.on_commit(lambda: delete(names, prefixes))


def _files_under(store: Storage, prefix: str) -> list[str]:
    try:
        folders, files = store.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [f"{prefix}/{name}" for name in files]
    for folder in folders:
        found.extend(_files_under(store, f"{prefix}/{folder}"))
    return found


def _file_hash(handle) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(_CHUNK), b""):
        digest.update(block)
    return digest.hexdigest()


def ensure_store(*, create_bucket: bool = True) -> str:
    """Check that this machine can write, read and delete artefacts in the default storage; with an S3 store,
    create its bucket first when missing (MinIO starts empty). Returns a line describing the store."""
    store = storage()
    bucket = getattr(store, "bucket_name", None)
    if bucket:
        client = store.connection.meta.client  # type: ignore[attr-defined]
        # botocore comes with the S3 backend only; the embedded default has none.
        from botocore.exceptions import ClientError

        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if not create_bucket or exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            region = getattr(store, "region_name", None) or "us-east-1"
            options = {} if region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": region}}
            client.create_bucket(Bucket=bucket, **options)
        where = f"S3 bucket {bucket} at {getattr(store, 'endpoint_url', None) or 'AWS'}"
    else:
        where = f"{type(store).__name__} at {getattr(store, 'location', '(memory)')}"
    probe = os.urandom(32)
    name = save_bytes("probes", probe)
    try:
        if read_bytes(name) != probe:
            raise ArtefactCorrupt(f"The {where} returned other bytes than were written.")
    finally:
        storage().delete(name)
    return where
