import pytest

from tests.web.factories import make_dataset, make_history


@pytest.fixture(autouse=True)
def diagnostics_folder(settings, tmp_path):
    """Each test stores its runs' histories in its own folder (database ids restart between test databases)."""
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"  # the default storage's root
    settings.ARTEFACT_CACHE_DIR = tmp_path / "artefact-cache"


def make_films(users: int = 12, items: int = 10):
    dataset = make_dataset(name="films", n_items=items)
    for u in range(users):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + 2 * k) % items + 1 for k in range(6)])
    return dataset


@pytest.fixture
def films(db):
    return make_films()
