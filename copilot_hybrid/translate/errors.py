"""Errors raised by the translators."""

from __future__ import annotations


class TranslationError(ValueError):
    """A request the translator cannot turn into a valid upstream request.

    The server answers it with an Anthropic `invalid_request_error` (HTTP 400);
    `param` names the offending field in Anthropic's dotted style
    (e.g. `messages.2.content.0.source`) when one can be named.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def __str__(self) -> str:
        return f"{self.param}: {self.message}" if self.param else self.message
