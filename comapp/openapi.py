"""OpenAPI pieces shared by the TMF APIs: the TMF630 Error body and the error responses each operation may give."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .tmf import sort_description

ERROR_SCHEMA = {
    "type": "object",
    "description": "TMF630 Error. Written by comapp.exceptions for every failure.",
    "required": ["code", "reason", "message", "status", "@type"],
    "properties": {
        "code": {"type": "string", "description": "Stable error code, e.g. VALIDATION_FAILED."},
        "reason": {"type": "string", "description": "Short explanation (the HTTP reason phrase or COM's)."},
        "message": {"type": "string", "description": "What is wrong and how to correct it."},
        "status": {"type": "string", "description": "The HTTP status code, as a string."},
        "referenceError": {"type": "string", "description": "URI of documentation describing the error."},
        "errors": {
            "type": "array",
            "description": "One entry per problem found in the request.",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
        "@type": {"type": "string", "enum": ["Error"]},
    },
}

_DESCRIPTIONS = {
    400: "Invalid request (TMF Error naming each problem)",
    401: "No or invalid credentials",
    403: "Authenticated but not allowed",
    404: "No such resource visible to the caller",
    405: "Method not allowed",
    406: "Cannot answer in a media type the Accept header allows",
    409: "Conflict with the current state of the resource",
    412: "If-Match names a version the resource is no longer at (the response's ETag is the current one)",
    413: "Request body too large",
    415: "Unsupported Content-Type",
    429: "Too many requests for this channel",
}
READ_ERRORS = (400, 401, 403, 404, 406, 429)
WRITE_ERRORS = (400, 401, 403, 404, 406, 409, 413, 415, 429)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """``{status: TMF Error response}`` for ``extend_schema(responses=...)``."""
    return {status: OpenApiResponse(ERROR_SCHEMA, description=_DESCRIPTIONS[status]) for status in statuses}


def sort_parameter(sortable: dict[str, str]) -> OpenApiParameter:
    return OpenApiParameter("sort", str, description=sort_description(sortable))


def without_trailing_slash(endpoints):
    """drf-spectacular preprocessing hook: document the TMF paths as TMF writes them, without a trailing slash
    (every route accepts both)."""
    return [(path.rstrip("/") if path != "/" else path, path_regex, method, callback)
            for path, path_regex, method, callback in endpoints]
