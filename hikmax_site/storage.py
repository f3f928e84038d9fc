"""Static files with content-hashed names (served by WhiteNoise with a one-year, immutable cache lifetime)."""

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
