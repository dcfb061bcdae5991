"""Error pages for routes outside DRF: API paths get a TMF Error body, others Django's defaults."""
from django.views import defaults

from .exceptions import json_error


def not_found(request, exception=None):
    if request.path.startswith("/tmf-api/"):
        return json_error(404, "NOT_FOUND", "Resource not found", f"No resource at {request.path}")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/tmf-api/"):
        return json_error(500, "INTERNAL_ERROR", "Internal error", "The server failed to process the request.")
    return defaults.server_error(request)
