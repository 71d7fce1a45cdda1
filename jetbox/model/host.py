"""OLLAMA_HOST, read one way for run, diag and serve: every form the `ollama` client takes
(`localhost:11434`, `0.0.0.0`, `http://x`, `https://x:443`, `[::1]:11434`, `:8080`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from jetbox.core.errors import ModelDown, UsageError

DEFAULT_PORT = 11434
SCHEME_PORTS = {"http": 80, "https": 443}
# Addresses that mean "every interface" when a server binds them; a client connects to the
# same machine's loopback instead.
ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True)
class Host:
    """A parsed server address: what a server binds and what a client connects to."""

    scheme: str
    name: str   # as given (0.0.0.0 stays: a server binds it)
    port: int
    path: str = ""

    @property
    def connect_name(self) -> str:
        return ANY_ADDRESS.get(self.name, self.name)

    @property
    def url(self) -> str:
        """The URL a client uses: 0.0.0.0 becomes 127.0.0.1, IPv6 gets brackets."""
        name = self.connect_name
        name = f"[{name}]" if ":" in name else name
        return f"{self.scheme}://{name}:{self.port}{self.path}"


def parse_host(text: str | None, default_port: int = DEFAULT_PORT) -> Host:
    """Like the ollama client: no scheme means http; no port means 11434, or 80/443 when a
    scheme was written; nothing at all means http://127.0.0.1:11434. `jetbox serve` passes
    its own default port, so an address without one never lands on Ollama's."""
    text = (text or "").strip()
    if not text:
        return Host("http", "127.0.0.1", default_port)
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"http://{text}")
    scheme = parts.scheme.lower()
    if scheme not in SCHEME_PORTS:
        raise UsageError(f"Ollama host {text!r}: the scheme must be http or https")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"Ollama host {text!r}: the port is not a number from 0 to "
                         f"65535") from None
    if port is None:
        port = SCHEME_PORTS[scheme] if has_scheme else default_port
    name = parts.hostname or "127.0.0.1"
    return Host(scheme, name, port, parts.path.rstrip("/"))


def unreachable(address: Host) -> str:
    """Why a connection failed, told apart: a name that does not resolve, or a port where
    nothing listens."""
    import socket

    try:
        socket.getaddrinfo(address.connect_name, address.port)
    except (OSError, UnicodeError):
        return (f"cannot resolve {address.connect_name}: check the host name in --host or "
                f"OLLAMA_HOST ({address.url})")
    return (f"cannot reach Ollama at {address.url} (connection refused); start it with "
            f"`ollama serve` (or `jetbox serve` for the offline one)")


class Unreachable(ModelDown):
    """Nothing answers at the address: no server, or a name that does not resolve."""


JETBOX_SERVER = "Jetbox offline server"


def server_version(address: Host, timeout_s: float = 10) -> tuple[str, str]:
    """The server's version and what it is (Ollama, or Jetbox's offline server, which names
    itself in its Server header and its /api/version), or a message that tells a name that
    does not resolve, a port where nothing listens (Unreachable) and a server that is not
    Ollama apart."""
    import httpx

    from jetbox.model.transport import tls

    try:
        reply = httpx.get(f"{address.url}/api/version", timeout=timeout_s, verify=tls())
        data = reply.json()
        offline = "jetbox" in (reply.headers.get("server", "") + str(data.get("server", ""))
                               ).lower()
        return str(data["version"]), JETBOX_SERVER if offline else "Ollama"
    except httpx.ConnectError:
        raise Unreachable(unreachable(address)) from None
    except httpx.TimeoutException:
        raise ModelDown(f"{address.url} did not answer within {timeout_s:g} s: is it "
                               f"Ollama, and is it overloaded?") from None
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelDown(f"{address.url} answers, but not as Ollama does "
                               f"(GET /api/version); check --host") from None


def check_model(address: Host, model: str, timeout_s: float = 10) -> None:
    """ModelDown, naming what the server has, when it says it has no such model
    (asked through /api/show, so `llama3` finds `llama3:latest` as a chat would)."""
    import httpx

    from jetbox.model.transport import tls

    try:
        if httpx.post(f"{address.url}/api/show", json={"model": model},
                      timeout=timeout_s, verify=tls()).status_code != 404:
            return
    except httpx.HTTPError:
        return  # not a clear "no such model": the requests that follow say what is wrong
    try:
        listed = httpx.get(f"{address.url}/api/tags", timeout=timeout_s,
                           verify=tls()).json()["models"]
        names = ", ".join(str(m.get("model") or m.get("name")) for m in listed)
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        names = ""
    raise ModelDown(f"model `{model}` is not available at {address.url}; it has: "
                           f"{names or 'no models'}; pull it with `ollama pull {model}`")


def check_before_work(host: str, model: str) -> None:
    """What `diag` checks first, asked before a run or an eval spends anything (the
    baseline probe can take minutes): the server answers, and it has the model. Only a
    sure answer stops it: a slow or odd server is left to the run's retries."""
    address = parse_host(host)
    try:
        server_version(address)
    except Unreachable:
        raise
    except ModelDown:
        return
    check_model(address, model)
