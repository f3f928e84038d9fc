"""plotly.js (4.8 MB) is loaded only by pages that draw a chart."""

import pytest
from django.urls import reverse

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db
PLOTLY = "vendor/plotly/plotly.min"


def test_chart_free_member_pages_do_not_load_plotly(member_client):
    make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3))
    for name in ("recourse:corrections", "profile", "recsys:jobs"):
        response = member_client.get(reverse(name))
        assert response.status_code in (200, 403), name
        assert PLOTLY not in response.content.decode(), name


def test_the_history_page_with_its_timeline_loads_plotly_once(member_client):
    make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3))
    page = member_client.get(reverse("recsys:home")).content.decode()
    assert page.count(PLOTLY) == 1 and page.index(PLOTLY) < page.index("Plotly.newPlot")


def test_a_member_without_history_gets_no_chart_and_no_plotly(member_client):
    make_dataset()
    page = member_client.get(reverse("recsys:home")).content.decode()
    assert "Plotly.newPlot" not in page and PLOTLY not in page


def test_the_metrics_section_without_an_experiment_does_not_load_plotly(analyst_client):
    dataset = make_dataset()
    page = analyst_client.get(reverse("dashboard:metrics") + f"?dataset={dataset.pk}").content.decode()
    assert "No experiments yet" in page and PLOTLY not in page


def test_the_comparison_section_without_a_model_does_not_load_plotly(analyst_client):
    dataset = make_dataset()
    make_history(dataset)
    page = analyst_client.get(reverse("dashboard:comparison") + f"?dataset={dataset.pk}").content.decode()
    assert "Plotly.newPlot" not in page and PLOTLY not in page
    overview = analyst_client.get(reverse("dashboard:overview") + f"?dataset={dataset.pk}").content.decode()
    assert overview.count(PLOTLY) == 1  # a section with charts still loads it, once
