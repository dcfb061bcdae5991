"""The one domain error type. Services raise it; ``comapp.exceptions`` maps it to the TMF Error body."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (a JSON path like ``productOrderItem[0].quantity``) and what."""

    field: str
    message: str


class ComError(Exception):
    """A request COM refuses. ``code`` is stable for clients; ``problems`` lists everything found."""

    status = 400
    code = "INVALID_REQUEST"
    reason = "Invalid request"

    def __init__(self, message: str = "", *, problems: list[Problem] | None = None, code: str | None = None,
                 reason: str | None = None, status: int | None = None):
        self.problems = list(problems or [])
        if code:
            self.code = code
        if reason:
            self.reason = reason
        if status:
            self.status = status
        if not message and self.problems:
            message = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in self.problems)
        self.message = message or self.reason
        super().__init__(self.message)


class ValidationFailed(ComError):
    status, code, reason = 400, "VALIDATION_FAILED", "The request is not valid"


class Forbidden(ComError):
    status, code, reason = 403, "FORBIDDEN", "Not allowed for this caller"


class NotFound(ComError):
    status, code, reason = 404, "NOT_FOUND", "Resource not found"


class Conflict(ComError):
    status, code, reason = 409, "CONFLICT", "Conflict with the current state of the resource"


class NotAllowed(ComError):
    status, code, reason = 409, "NOT_ALLOWED_IN_STATE", "Not allowed in the current state"


class PreconditionFailed(ComError):
    """The resource is no longer at the version the request was prepared against (``If-Match``, HTTP 412).

    ``current_version`` is the version it is at: the API answers it as the ``ETag`` of the error response.
    """

    status, code, reason = 412, "PRECONDITION_FAILED", "The resource has changed since it was read"

    def __init__(self, message: str = "", *, current_version: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.current_version = current_version
