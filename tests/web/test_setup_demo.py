import pytest
from django.core.management import call_command

from accounts.models import User
from recsys.models import Dataset, InteractionSequence

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
