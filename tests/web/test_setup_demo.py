import pytest
from django.core.management import call_command

from accounts.models import User
from recsys.models import Dataset, Interaction, InteractionSequence

pytestmark = pytest.mark.django_db


def test_setup_demo_creates_data_accounts_and_links_members(settings):
    call_command("setup_demo", users=60, items=150, interactions=3000, skip_training=True)
    dataset = Dataset.objects.get(name=settings.HIKMAX["DEMO_DATASET"])
    assert dataset.n_users == 60 and dataset.n_interactions > 2000 and dataset.has_categories
    assert User.objects.get(username="analyst").role == "analyst"
    assert User.objects.get(username="admin").role == "administrator"
    demo = InteractionSequence.objects.get(user__username="demo")
    calm = InteractionSequence.objects.get(user__username="calm")
    assert demo.external_user_id != calm.external_user_id
    assert User.objects.get(username="demo").check_password("hikmax-demo-member")
    assert dataset.is_default  # new members land on the demo
    watched = Interaction.objects.filter(sequence__dataset=dataset).values("item").distinct().count()
    assert dataset.items.count() == dataset.n_items == watched  # the catalogue is what the model can know
    burst = demo.attributes["planted_off_taste_burst"]
    assert burst["length"] == 8 and burst["categories"] and burst["start"][:2] in ("19", "20")
    assert demo.interactions.filter(timestamp__gte=_unix(burst["start"])).count() >= 8
    assert "planted_off_taste_burst" not in calm.attributes
    call_command("setup_demo", skip_training=True)  # idempotent
    assert Dataset.objects.count() == 1 and InteractionSequence.objects.filter(user__isnull=False).count() == 2


def test_demo_candidates_put_the_most_recent_drift_episode_first():
    import pandas as pd

    from recourse.management.commands.setup_demo import demo_candidates

    rows = [("a", False), ("a", True), ("a", False), ("a", False),  # episode 2 steps before the end
            ("b", False), ("b", False), ("b", True),  # episode at the very end
            ("c", False), ("c", False)]
    interactions = pd.DataFrame(rows, columns=["user_id", "drift_episode"])
    assert demo_candidates(interactions) == {"demo": ["b", "a"], "calm": ["c"]}


def test_since_burst_marks_each_planted_burst_and_what_followed_it():
    import pandas as pd

    from recourse.management.commands.setup_demo import since_burst

    rows = [("a", False), ("a", True), ("a", True), ("a", False), ("b", False), ("b", False), ("c", True)]
    interactions = pd.DataFrame(rows, columns=["user_id", "drift_episode"])
    assert since_burst(interactions).tolist() == [False, True, True, True, False, False, True]


def _unix(iso_date: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(iso_date).replace(tzinfo=UTC).timestamp())


def test_setup_demo_uses_a_real_folder_when_given(settings, tmp_path):
    from recsys.importers.synthetic import generate, write_movielens_1m

    write_movielens_1m(generate(n_users=40, n_items=120, n_interactions=2400, seed=2), tmp_path)
    call_command("setup_demo", data=str(tmp_path), skip_training=True)
    dataset = Dataset.objects.get(name=settings.HIKMAX["DEMO_DATASET"])
    assert dataset.source_format == "ml-1m" and dataset.n_interactions == 2400 and dataset.is_default
    demo = InteractionSequence.objects.get(user__username="demo")
    calm = InteractionSequence.objects.get(user__username="calm")
    assert demo.pk != calm.pk and "planted_off_taste_burst" not in demo.attributes
