"""API-wide behaviour: JSON parsing, strict pagination and the error responses the schema documents for all."""

from django.core.exceptions import BadRequest
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination

from recsys.params import parse_id

ERROR_RESPONSES = {
    "400": "The request is malformed or fails validation; the body says what to change.",
    "403": "Not signed in, or not allowed to do this.",
    "404": "No such object among yours, or nothing to show yet (no dataset, no active model).",
}


class BadRequestError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"


def exception_handler(exc, context):
    """DRF's handler; Django's BadRequest (recsys.params.require_id, shared with the HTML pages) answers in JSON too,
    not with the HTML error page."""
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES (this module's JSONParser) when imported, so
    # importing it above failed whenever this module was imported first (a Celery worker's system checks).
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, BadRequest):
        exc = BadRequestError(str(exc))
    return drf_exception_handler(exc, context)


NESTED_TOO_DEEPLY = "JSON parse error - the body is nested too deeply."


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested too deeply for Python's parser (RecursionError) is a 400 like other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(NESTED_TOO_DEEPLY) from None


class StrictPageNumberPagination(PageNumberPagination):
    """?page= must be a whole number of 1 or more (400 otherwise); a page past the end is a 404."""

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param, "1")
        number = parse_id(value)
        if number is None or number < 1:
            raise ValidationError({self.page_query_param: ["Give a page number of 1 or more."]})
        return number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


def document_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: add the 400/403/404 responses to every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "description": "`detail` for a single message, else one list of messages per field",
        "properties": {"detail": {"type": "string"}},
        "additionalProperties": True,
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                })
    return result
