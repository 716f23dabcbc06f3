"""Domain errors that services raise and the API maps to HTTP statuses in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A request that breaks a business rule (HTTP 400). ``field`` names the culprit, if one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TransitionNotAllowed(DomainError):
    """A state change that the state machine does not allow (HTTP 400)."""


class Conflict(DomainError):
    """The object changed under the caller, or a concurrent change won (HTTP 409)."""
