"""TMF630 API conventions shared by every TMF API here: dates, paging, ``fields=`` selection, hrefs.

- Dates are written in UTC with ``Z``; date filters are parsed, so ``+00:00`` that arrives URL-decoded as a
  space still matches.
- Lists take ``offset``/``limit`` and answer with ``X-Total-Count`` and ``X-Result-Count``; a page that is
  not the whole result is a 206 Partial Content, the whole result a 200.
- ``fields=a,b`` keeps only those attributes (plus ``id``, ``href`` and ``@type``, always kept).
"""
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

ALWAYS_KEPT = ("id", "href", "@type", "@baseType")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Query parameters that are never attribute filters.
RESERVED_PARAMS = {"fields", "offset", "limit", "sort", "format"}


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z``, millisecond precision, as TMF examples write dates."""
    if value is None:
        return None
    return value.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_date_param(name: str, raw: str) -> datetime:
    """Parse a date filter value. A ``+`` sent unencoded arrives as a space: put it back."""
    text = raw.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # some clients (a version of the TMF622 kit) quote date values
    if " " in text:
        head, _, tail = text.rpartition(" ")
        text = f"{head}+{tail}"
    value = parse_datetime(text)
    if value is None:
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError({name: f"'{raw}' is not an ISO 8601 date-time."}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def parse_int_param(request, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: f"'{raw}' is not an integer."}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError({name: f"must be {bound}."})
    return value


def filter_params(request) -> dict[str, str]:
    """The query parameters that are attribute filters (everything but fields, offset, limit...)."""
    return {name: value for name, value in request.query_params.items() if name not in RESERVED_PARAMS}


def select_fields(data: dict, fields: set[str] | None) -> dict:
    if not fields:
        return data
    return {key: value for key, value in data.items() if key in fields or key in ALWAYS_KEPT}


def parse_fields(request, allowed: set[str]) -> set[str] | None:
    raw = request.query_params.get("fields")
    if raw is None or raw.strip() == "":
        return None
    fields = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(f for f in fields if f.split(".")[0] not in allowed)
    if unknown:
        raise ValidationError({"fields": f"unknown attribute(s): {', '.join(unknown)}"})
    return {f.split(".")[0] for f in fields}


def paged_response(request, queryset, to_representation, *, allowed_fields: set[str]) -> Response:
    """Page a queryset the TMF way and render each row with ``to_representation(row)``."""
    fields = parse_fields(request, allowed_fields)
    offset = parse_int_param(request, "offset", 0, minimum=0)
    limit = parse_int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    total = queryset.count()
    rows = list(queryset[offset: offset + limit])
    data = [select_fields(to_representation(row), fields) for row in rows]
    status = 206 if len(rows) < total else 200
    return Response(data, status=status, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(rows))})


def single_response(request, data: dict, *, allowed_fields: set[str], status: int = 200, headers=None) -> Response:
    return Response(select_fields(data, parse_fields(request, allowed_fields)), status=status, headers=headers)


def absolute_url(request, path: str) -> str:
    """An absolute href; without a request (events, notifications) the configured public URL is used."""
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.COM_PUBLIC_URL.rstrip("/") + path
