"""The one API error handler: every failure leaves COM as a TMF Error body (code, reason, message, status)."""
import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .errors import ComError, PreconditionFailed
from .tmf import etag

log = logging.getLogger(__name__)

REFERENCE_ERROR = "https://www.tmforum.org/resources/specification/tmf630-rest-api-design-guidelines-4-2-0/"


def error_body(*, status: int, code: str, reason: str, message: str, problems=None) -> dict:
    body = {
        "code": code,
        "reason": reason,
        "message": message,
        "status": str(status),
        "referenceError": REFERENCE_ERROR,
        "@type": "Error",
    }
    if problems:
        body["errors"] = [{"field": p.field, "message": p.message} for p in problems]
    return body


def _flatten(detail, path="") -> list[tuple[str, str]]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int):  # DRF keys a list's errors by the index of the entry
                out += _flatten(value, f"{path}[{key}]")
                continue
            sub = key if key != "non_field_errors" else ""
            out += _flatten(value, f"{path}.{sub}".strip(".") if sub else path)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            out += _flatten(value, f"{path}[{index}]" if isinstance(value, (dict, list)) else path)
        return out
    return [(path, str(detail))]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def tmf_exception_handler(exc, context):
    if isinstance(exc, ComError):
        # A 412 tells the client the version the resource is at now, as GET would.
        headers = ({"ETag": etag(exc.current_version)}
                   if isinstance(exc, PreconditionFailed) and exc.current_version is not None else None)
        return Response(
            error_body(status=exc.status, code=exc.code, reason=exc.reason, message=exc.message, problems=exc.problems),
            status=exc.status, headers=headers,
        )
    if isinstance(exc, RequestDataTooBig):
        exc = drf.APIException("Request body too large")
        exc.status_code = 413
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    if isinstance(exc, drf.ValidationError):
        pairs = _flatten(exc.detail)
        message = "; ".join(f"{field}: {msg}" if field else msg for field, msg in pairs)
        body = error_body(status=status, code="VALIDATION_FAILED", reason="The request is not valid", message=message)
        body["errors"] = [{"field": f, "message": m} for f, m in pairs]
    else:
        detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
        code = getattr(exc, "default_code", "error").upper()
        if status == 413:
            code = "PAYLOAD_TOO_LARGE"
        # The reason is the HTTP phrase, never DRF's default_detail: that is a template
        # ('Method "{method}" not allowed.') which only the message has filled in.
        body = error_body(status=status, code=code, reason=_phrase(status), message=str(detail))
    response.data = body
    return response


def json_error(status: int, code: str, reason: str, message: str) -> JsonResponse:
    """For the few places outside DRF views (404 handler, middleware)."""
    return JsonResponse(error_body(status=status, code=code, reason=reason, message=message), status=status)
