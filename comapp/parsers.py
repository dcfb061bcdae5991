"""Request body parsers beyond DRF's JSON one."""
from rest_framework.parsers import JSONParser


class MergePatchJSONParser(JSONParser):
    """``application/merge-patch+json`` (RFC 7386), the PATCH format TMF630 names: JSON, merged by the view."""

    media_type = "application/merge-patch+json"
