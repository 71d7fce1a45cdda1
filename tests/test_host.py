"""OLLAMA_HOST in every form the ollama client takes, read one way by run, diag and serve."""

from __future__ import annotations

import pytest

from jetbox.core.errors import UsageError
from jetbox.model.host import parse_host, unreachable
from jetbox.offline import OfflineOllama, ScriptResponder, Turn
from tests.conftest import run_cli


@pytest.mark.parametrize("text, url", [
    ("", "http://127.0.0.1:11434"),
    (None, "http://127.0.0.1:11434"),
    ("localhost:11434", "http://localhost:11434"),
    ("localhost", "http://localhost:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("127.0.0.1", "http://127.0.0.1:11434"),
    ("http://x", "http://x:80"),
    ("https://x", "https://x:443"),
    ("https://x:443", "https://x:443"),
    ("[::1]:11434", "http://[::1]:11434"),
    ("[::1]", "http://[::1]:11434"),
    (":56789", "http://127.0.0.1:56789"),
    ("  example.com:1234/proxy/ ", "http://example.com:1234/proxy"),
    ("HTTP://Example.com", "http://example.com:80"),
])
def test_every_form_the_ollama_client_takes(text: str | None, url: str) -> None:
    assert parse_host(text).url == url


def test_a_server_binds_what_was_written_and_a_client_connects_to_loopback() -> None:
    host = parse_host("0.0.0.0:9000")
    assert (host.name, host.port, host.connect_name) == ("0.0.0.0", 9000, "127.0.0.1")


@pytest.mark.parametrize("text", ["ftp://x", "x:notaport", "x:70000"])
def test_nonsense_is_a_usage_error_naming_it(text: str) -> None:
    with pytest.raises(UsageError, match="Ollama host"):
        parse_host(text)


def test_refused_and_unresolvable_get_different_advice() -> None:
    refused = unreachable(parse_host("127.0.0.1:9"))
    assert "connection refused" in refused and "ollama serve" in refused
    unknown = unreachable(parse_host("no-such-host.invalid:11434"))
    assert unknown.startswith("cannot resolve no-such-host.invalid")


def test_diag_tells_refused_from_unresolvable() -> None:
    refused = run_cli("diag", "--host", "127.0.0.1:9")
    assert refused.code == 4 and "start it with `ollama serve`" in refused.err
    unknown = run_cli("diag", "--host", "no-such-host.invalid")
    assert unknown.code == 4 and "cannot resolve no-such-host.invalid" in unknown.err


def test_diag_accepts_a_host_without_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    with OfflineOllama(ScriptResponder([Turn(content="ready")])) as server:
        bare = server.host.removeprefix("http://")
        monkeypatch.setenv("OLLAMA_HOST", bare)
        result = run_cli("diag", "-n", "1")
    assert result.code == 0, result.err
    assert f"server   {server.host} " in result.out
