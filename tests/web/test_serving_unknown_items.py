import pytest
from django.urls import reverse

from recsys.models import Interaction, Item
from recsys.services import serving
from recsys.vocabulary import words_for

pytestmark = pytest.mark.django_db


def test_items_added_after_training_are_listed_as_ignored(trained, client):
    dataset, _, alice = trained
    assert serving.recommend_for_member(alice, dataset).ignored == []

    late = [Item.objects.create(dataset=dataset, external_id=f"late-{n}", title=title) for n, title in
            enumerate(("Zulu", "Alpha"))]
    sequence = alice.sequences.get(dataset=dataset)
    for step, item in enumerate(late):
        Interaction.objects.create(sequence=sequence, item=item, timestamp=2_000_000 + step, position=100 + step)
    recs = serving.recommend_for_member(alice, dataset)
    assert [item.title for item in recs.ignored] == ["Alpha", "Zulu"]
    assert len(recs.items) == 10 and not recs.fallback
    client.force_login(alice)
    page = client.get(reverse("recourse:for-you")).content.decode()
    items = words_for(dataset).items  # in the dataset's own word, not always "items"
    page = " ".join(page.split())
    assert f"2 {items} in your history (Alpha, Zulu)" in page and f"only knows the {items} in its training" in page
