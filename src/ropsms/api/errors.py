"""The API's one error shape: `{"field", "code", "message"}` with the right 4xx status."""

from __future__ import annotations

from ropsms.messaging.errors import SendError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str = "",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def from_send_error(exc: SendError) -> ApiError:
    """Map the outbox's refusal to a status: quotas are 429 (with Retry-After), bad input 422."""
    if exc.code == "quota":
        retry = getattr(exc, "retry_after", 3600)
        return ApiError(429, "quota", str(exc), field=exc.field, headers={"Retry-After": str(retry)})
    return ApiError(422, exc.code, str(exc), field=exc.field)
