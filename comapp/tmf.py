"""TMF630 API conventions shared by every TMF API here: dates, paging, ``fields=`` selection, hrefs.

- Dates are written in UTC with ``Z``; date filters are parsed, so ``+00:00`` that arrives URL-decoded as a
  space still matches.
- Lists take ``offset``/``limit`` and answer with ``X-Total-Count`` and ``X-Result-Count``; a page that is
  not the whole result is a 206 Partial Content, the whole result a 200.
- ``fields=a,b`` keeps only those attributes (plus ``id``, ``href`` and ``@type``, always kept).
- ``sort=-orderDate,priority`` orders a list by the attributes each list declares sortable (``-`` descending,
  ``+`` or nothing ascending); any other attribute is a 400 naming the sortable ones, never silently ignored.
- A versioned resource answers with ``ETag: W/"<version>"``; a write takes ``If-Match`` (or a body attribute
  such as ``expectedOrderVersion``) naming the version it was prepared against: ``etag`` and
  ``expected_version`` are the one mapping between the two.
"""
import re
from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .errors import Problem, ValidationFailed

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
    try:  # parse_datetime raises ValueError for a well-formed impossible date (month 13): a 400 too
        value = parse_datetime(text) or datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError({name: f"'{raw}' is not an ISO 8601 date-time."}) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def parse_int_param(request, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
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


def sort_description(sortable: dict[str, str]) -> str:
    """The ``sort`` parameter's documentation for a list that sorts by ``sortable``."""
    return (f"Comma-separated attributes to order by, each prefixed with - for descending: "
            f"{', '.join(sorted(sortable))}.")


def parse_sort(request, sortable: dict[str, str]) -> list[str] | None:
    """``sort=-orderDate,priority`` -> ``["-order_date", "priority"]`` through ``sortable`` (TMF name -> model
    field); None when absent. ValidationError naming the sortable attributes for anything else."""
    raw = request.query_params.get("sort")
    if raw is None or raw.strip() == "":
        return None
    allowed = ", ".join(sorted(sortable)) or "none"
    ordering, refused = [], []
    for part in raw.split(","):
        term = part.strip()  # a '+' sent unencoded arrives as a space
        if not term:
            continue
        descending = term.startswith("-")
        name = term.lstrip("+-")
        if name not in sortable:
            refused.append(name or term)
            continue
        ordering.append(("-" if descending else "") + sortable[name])
    if refused:
        raise ValidationError({"sort": f"cannot sort by {', '.join(refused)}; sortable attributes: {allowed} "
                                       "(prefix - for descending)"})
    return ordering or None


def paged_response(request, queryset, to_representation, *, allowed_fields: set[str],
                   sortable: dict[str, str] | None = None) -> Response:
    """Page a queryset (or a list already in order) the TMF way and render each row with ``to_representation(row)``.

    ``sortable`` maps the TMF attributes ``sort=`` may name to model fields; the primary key breaks ties so that
    paging a sorted list never repeats or skips a row.
    """
    fields = parse_fields(request, allowed_fields)
    ordering = parse_sort(request, sortable or {})
    offset = parse_int_param(request, "offset", 0, minimum=0)
    limit = parse_int_param(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    if ordering:
        queryset = queryset.order_by(*ordering, "pk")
    total = len(queryset) if isinstance(queryset, list) else queryset.count()
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


# --- ETag / If-Match (RFC 9110 13.1.1, TMF630) ----------------------------------------------------------------
# Weak, because two answers of one version differ in bytes (``fields=``, the host in every href): the tag names
# the version of the resource, not a byte string. RFC 9110 compares If-Match strongly, so "3" and W/"3" are both
# accepted as naming version 3: what a client copies from ETag must work.
_ENTITY_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def etag(version: int) -> str:
    """The ETag of a resource at ``version``: ``W/"3"``."""
    return f'W/"{int(version)}"'


def expected_version(if_match: str | None, *, body_version=None) -> int | None:
    """The version a write was prepared against, from ``If-Match`` and/or a body attribute; None: no condition.

    ``If-Match: *`` (or no header, or an empty one) sets no condition. A header listing several tags, an unreadable
    tag, a body version that is not a positive integer, or a header and a body naming different versions: a
    ValidationFailed naming what is wrong (the caller maps it to a 400).
    """
    problems = []
    header_version = None
    text = (if_match or "").strip()
    if text and text != "*":
        match = _ENTITY_TAG.match(text)
        if match is None:
            problems.append(Problem("If-Match", f"expected one entity tag as sent in ETag (e.g. {etag(3)}) or *, "
                                                f"got {text[:60]!r}"))
        else:
            header_version = int(match.group(1))
    if body_version is not None and (isinstance(body_version, bool) or not isinstance(body_version, int)
                                     or body_version < 1):
        problems.append(Problem("expectedOrderVersion", "must be a positive integer (the version of the ETag)"))
        body_version = None
    if header_version is not None and body_version is not None and header_version != body_version:
        problems.append(Problem("expectedOrderVersion", f"is {body_version} but If-Match names version "
                                                        f"{header_version}: send one, or the same in both"))
    if problems:
        raise ValidationFailed(problems=problems)
    return header_version if header_version is not None else body_version
