"""Logging filters the settings wire in."""
import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keep ``django.request``'s one-line warning for a 4xx answer but drop its traceback.

    Django logs a refused page (403, a member opening a staff page) with the PermissionDenied traceback, so the
    server log of an ordinary demo walk was full of "Traceback (most recent call last)" for pages that worked as
    meant; a 5xx keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
