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


def test_the_schema_ignores_a_version_in_the_query_so_nothing_typed_there_reaches_a_response_header(member_client):
    """?version=%00 went into Content-Disposition, which gunicorn refused with its own 500 page."""
    member_client.raise_request_exception = False
    plain = member_client.get(reverse("api-schema"))
    for version in ("\x00", "x\r\nSet-Cookie: a=b", "2.0"):
        response = member_client.get(reverse("api-schema"), {"version": version})
        assert response.status_code == 200
        assert response["Content-Disposition"] == plain["Content-Disposition"] == 'inline; filename="HikmaX API.yaml"'
        assert response.content == plain.content and "  version: 1.0.0\n" in plain.content.decode()
