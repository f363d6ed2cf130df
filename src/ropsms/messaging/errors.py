"""The one exception type the outbox raises for bad input, with a message a clerk understands."""


class SendError(ValueError):
    """Input that cannot become a message: bad number, empty or too long text, bad sender ID, quota."""

    def __init__(self, message: str, *, code: str = "invalid", field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field
