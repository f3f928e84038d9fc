import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_openapi_schema_covers_every_endpoint(member_client):
    schema = member_client.get(reverse("api-schema") + "?format=json").json()
    assert {"/api/history/", "/api/recommendations/", "/api/recommendations/{item_id}/explanation/",
            "/api/explanations/{id}/"} <= set(schema["paths"])


def test_research_dashboard_json_endpoints_are_in_the_schema(member_client):
    paths = set(member_client.get(reverse("api-schema") + "?format=json").json()["paths"])
    assert {"/research/api/overview/", "/research/api/experiments/", "/research/api/experiments/{experiment_id}/",
            "/research/api/feedback/"} <= paths


def test_api_docs_need_no_cdn(member_client):
    page = member_client.get(reverse("api-docs")).content.decode()
    assert "cdn" not in page.lower() and "/static/drf_spectacular_sidecar/" in page


def test_api_requires_sign_in(client):
    assert client.get(reverse("api-recommendations")).status_code in (401, 403)
    assert client.get(reverse("api-history")).status_code in (401, 403)
