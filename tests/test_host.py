"""OLLAMA_HOST in every form the ollama client takes, read one way by run, diag and serve."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from jetbox.core.errors import ModelDown, UsageError
from jetbox.model.host import parse_host, server_version, unreachable
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


def test_an_https_host_is_verified_with_the_certificates_in_force(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every request shares one TLS context per process (model/transport.py tls()): it must
    # still verify, and must follow SSL_CERT_FILE as a client of its own would.
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl program here to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Version(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"version": "0.9.9"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    address = parse_host(f"https://127.0.0.1:{server.server_address[1]}")
    try:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(ModelDown):
            server_version(address)  # a certificate nobody trusts
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert server_version(address) == ("0.9.9", "Ollama")
        monkeypatch.delenv("SSL_CERT_FILE")
        with pytest.raises(ModelDown):
            server_version(address)
    finally:
        server.shutdown()
        server.server_close()
