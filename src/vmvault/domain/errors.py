"""Errors with a stable code and a message that tells the user what to do.

Every error a user can cause carries an Azure-style code (``UserError...``/``BMSUserError...``)
and a one-line message naming the offending field, its value and what is allowed. Interfaces
map the class to an exit code (CLI) or an HTTP status (API) in one place.
"""

from __future__ import annotations


class VmvaultError(Exception):
    """Base class of every error vmvault reports to a user."""

    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInputError(VmvaultError):
    """A request or document breaks a rule; nothing was changed."""

    code = "UserErrorInvalidInput"


class PolicyValidationError(InvalidInputError):
    """A backup policy breaks a rule of its subtype."""

    code = "BMSUserErrorInvalidPolicyInput"


class NotFoundError(VmvaultError):
    """A named vault, policy, item, point or job does not exist."""

    code = "ResourceNotFound"


class ConflictError(VmvaultError):
    """The request conflicts with the current state (a name taken, a policy in use)."""

    code = "UserErrorConflict"


def field_error(path: str, value: object, allowed: str) -> PolicyValidationError:
    """The standard one-line message: the field, the value given, and what is allowed."""
    return PolicyValidationError(f"{path} {value!r} is not valid: {allowed}")
