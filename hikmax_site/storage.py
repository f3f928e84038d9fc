"""Storages: static files with content-hashed names (served by WhiteNoise with a one-year, immutable cache
lifetime) and the embedded default's file storage, whose writes are atomic."""

import contextlib
import os
import tempfile

from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFiles(CompressedManifestStaticFilesStorage):
    """After collectstatic every {% static %} URL carries the file's hash. Before it (tests, a fresh checkout)
    a file missing from the manifest and from STATIC_ROOT gets its plain name, which WhiteNoise's finders serve."""

    manifest_strict = False

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:  # not collected yet
            return name


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files appear under their names only once completely written.

    Django's own writes straight into the final name, so a reader (another worker) could see half a file.
    Here the content goes to a hidden temporary file beside it, which is then hard-linked into place:
    os.link fails when the name exists, as O_EXCL does, so a taken name still gets a new one.
    """

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                out.flush()
                os.fsync(out.fileno())
            os.chmod(partial, self.file_permissions_mode if self.file_permissions_mode is not None else 0o644)
            while True:
                if getattr(self, "_allow_overwrite", False):  # Django 5.1+: allow_overwrite=True
                    os.replace(partial, full_path)
                    break
                try:
                    os.link(partial, full_path)
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        self._ensure_location_group_id(full_path)  # type: ignore[attr-defined]
        return os.path.relpath(full_path, self.location).replace("\\", "/")
