"""How the Ollama client fails, turned into messages a person can act on: the retryable
failures, a stream line the client cannot read, and the client's own exceptions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jetbox.core.errors import ModelDown, UsageError
from jetbox.model.host import parse_host, unreachable


class Retryable(Exception):
    """A failure worth trying again: busy, 5xx, a broken stream, a timeout."""


def _parsed(stream: Iterator[Any], host: str) -> Iterator[Any]:
    """The client's chunks; a line it cannot parse (half a JSON line, an HTML error page,
    a JSON value that is not an object) is a broken stream, worth a retry."""
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except (json.JSONDecodeError, AttributeError, TypeError) as exc:
            raise Retryable(f"Ollama at {host} sent a line that is not Ollama's JSON stream "
                            f"({type(exc).__name__}: {str(exc)[:80]})") from None
        yield chunk


class _translated_errors:
    """Turns the client's many failure shapes into messages a person can act on."""

    def __init__(self, model: Any) -> None:  # an OllamaModel (host, name, settings)
        self.model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if exc is None:
            return False
        import httpx
        import ollama

        host, name = self.model.host, self.model.name
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            raise ModelDown(unreachable(parse_host(host))) from None
        if isinstance(exc, httpx.TimeoutException):
            raise Retryable(f"no answer from Ollama at {host} within "
                            f"{self.model.settings.timeout_s:g} s") from None
        if isinstance(exc, ollama.ResponseError):
            return self._response_error(exc, host, name)
        if isinstance(exc, httpx.HTTPError):
            raise Retryable(f"connection to Ollama at {host} broke: {exc}") from None
        if isinstance(exc, json.JSONDecodeError):  # e.g. a proxy's HTML page for /api/show
            raise Retryable(f"Ollama at {host} answered with something that is not JSON: "
                            f"{str(exc)[:80]}") from None
        import pydantic

        if isinstance(exc, pydantic.ValidationError):  # e.g. tool-call arguments as a string
            raise Retryable(f"the reply from {name} did not parse (malformed tool call): "
                            f"{exc.errors()[0].get('msg', exc)}") from None
        return False

    @staticmethod
    def _response_error(exc: Any, host: str, name: str) -> bool:
        text = str(exc.error)
        if exc.status_code == 404:
            raise ModelDown(f"model `{name}` is not available at {host}; pull it with "
                                   f"`ollama pull {name}` (`ollama list` shows what you "
                                   f"have)") from None
        if exc.status_code == -1:
            raise Retryable(f"the stream broke off with an error: {text}") from None
        if exc.status_code >= 500 or "error parsing tool call" in text:
            raise Retryable(f"Ollama answered {exc.status_code}: {text}") from None
        if exc.status_code == 400 and "does not support tools" in text:
            return False  # the caller switches protocols
        raise UsageError(f"Ollama at {host} refused the request ({exc.status_code}): {text}; "
                         f"check the model's settings (think, options)") from None
