"""The server log: a refused page is one line, a server error keeps its traceback."""
import logging

import pytest
from django.urls import reverse

from hikmax_site.log_filters import ClientErrorsWithoutTraceback

pytestmark = pytest.mark.django_db


def test_a_member_refused_a_staff_page_leaves_one_line_without_a_traceback(member_client, caplog):
    """A demo walk as a member logged "Traceback (most recent call last) … PermissionDenied" for every staff page."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert member_client.get(reverse("recsys:jobs")).status_code == 403
    refused = [record for record in caplog.records if record.name == "django.request"]
    assert refused and all(record.exc_info is None for record in refused)
    assert "Forbidden" in refused[0].getMessage() and "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        exc_info = sys.exc_info()
    for status, kept in ((500, True), (404, False), (403, False)):
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", None, exc_info)
        record.status_code = status
        assert ClientErrorsWithoutTraceback().filter(record)
        assert (record.exc_info is not None) is kept
