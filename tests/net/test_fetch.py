"""The guarded URL fetcher, against real HTTP(S) servers on loopback and a fake DNS resolver.

The "public" server listens on 127.0.0.2, which the test policy treats as public through
``allowed_test_networks``; every other private address, 127.0.0.1 included, stays forbidden. A second
server on 127.0.0.1 stands in for an internal service and must never see a request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from imagine_gateway.core.errors import FieldError, ValidationFailed
from imagine_gateway.net import (
    Fetched,
    FetchPolicy,
    SystemResolver,
    fetch_guarded,
    is_public_ip,
)

PUBLIC_IP = "127.0.0.2"
INTERNAL_IP = "127.0.0.1"
NOT_PUBLIC = "URL host is not a public internet address"
REDIRECT_NOT_PUBLIC = "redirect target host is not a public internet address"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 128, 0)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png_bytes()


class LoopbackServer(ThreadingHTTPServer):
    """A real HTTP server in a thread that records ``(path, Host header)`` of every request."""

    def __init__(self, host: str, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__((host, 0), _Handler)
        self.requests: list[tuple[str, str]] = []
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)
        self.port: int = self.server_address[1]
        # A short poll interval keeps shutdown, hence each test's teardown, quick.
        self._thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("Host", "")))
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        # The fetcher hangs up on purpose when it cuts a body off (size cap, deadline).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(url.path, query)

    def _route(self, path: str, query: dict[str, str]) -> None:
        if path == "/png":
            self._reply(200, PNG, content_type="text/html")  # the header lies; the body decides
        elif path == "/text":
            self._reply(200, b"just some words\n")
        elif path == "/noise":
            self._reply(200, bytes(range(0x80, 0x100)))
        elif path == "/empty":
            self._reply(200, b"")
        elif path == "/gzip":
            self._reply(200, PNG, extra={"Content-Encoding": "gzip"})
        elif path == "/missing":
            self._reply(404, b"not here")
        elif path == "/sized":
            body = PNG + b"\x00" * (int(query["n"]) - len(PNG))
            self._reply(200, body, declare_length=query.get("declare") == "1")
        elif path.startswith("/chain/"):
            left = int(path.removeprefix("/chain/"))
            if left == 0:
                self._reply(200, PNG)
            else:
                self._reply(302, b"", extra={"Location": f"/chain/{left - 1}"})
        elif path == "/redirect":
            self._reply(int(query.get("status", "302")), b"", extra={"Location": query["to"]})
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(PNG[:8])
            for _ in range(30):  # each byte arrives well within a read timeout; the whole does not
                time.sleep(0.1)
                self.wfile.write(b"\x00")
                self.wfile.flush()
        else:
            self._reply(404, b"")

    def _reply(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/octet-stream",
        declare_length: bool = True,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()  # HTTP/1.0: without Content-Length the body ends when the connection does
        self.wfile.write(body)


class MapResolver:
    """A resolver answering from a fixed table; records each lookup."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, noting the URL, Host header and SNI name of every request it sends."""

    def __init__(self, verify: ssl.SSLContext | bool = True) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=verify)
        self.sent: list[tuple[str, str, object]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((str(request.url), request.headers["Host"], request.extensions.get("sni_hostname")))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def public() -> Iterator[LoopbackServer]:
    with LoopbackServer(PUBLIC_IP) as server:
        yield server


@pytest.fixture
def internal() -> Iterator[LoopbackServer]:
    with LoopbackServer(INTERNAL_IP) as server:
        yield server


@pytest.fixture
def resolver() -> MapResolver:
    return MapResolver(
        {
            "public.test": [PUBLIC_IP],
            "internal.test": ["10.0.0.5"],
            "router.test": ["192.168.1.1"],
            "loopback.test": [INTERNAL_IP],
            "mixed.test": [PUBLIC_IP, "10.0.0.5"],
        }
    )


POLICY = FetchPolicy(
    allowed_schemes=frozenset({"http"}),
    allowed_test_networks=frozenset({f"{PUBLIC_IP}/32"}),
    timeout_s=5.0,
)


async def fetch_error(
    url: str, resolver: MapResolver, policy: FetchPolicy = POLICY, **kwargs: object
) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as exc_info:
        await fetch_guarded(url, policy=policy, resolver=resolver, field="image_url", **kwargs)  # type: ignore[arg-type]
    assert type(exc_info.value) is ValidationFailed
    return exc_info.value.details


# --- successful fetches -----------------------------------------------------------------------


async def test_fetch_returns_body_and_type_sniffed_from_the_body(
    public: LoopbackServer, resolver: MapResolver
) -> None:
    url = f"http://public.test:{public.port}/png"
    fetched = await fetch_guarded(url, policy=POLICY, resolver=resolver)
    assert (fetched, public.requests) == (
        Fetched(url=url, body=PNG, mime_type="image/png"),
        [("/png", f"public.test:{public.port}")],
    )


async def test_fetch_connects_to_the_vetted_address_under_the_original_host_name(
    public: LoopbackServer, resolver: MapResolver
) -> None:
    async with RecordingTransport() as transport:
        await fetch_guarded(
            f"http://public.test:{public.port}/png", policy=POLICY, resolver=resolver, transport=transport
        )
    assert (transport.sent, resolver.lookups) == (
        [(f"http://{PUBLIC_IP}:{public.port}/png", f"public.test:{public.port}", None)],
        ["public.test"],
    )


async def test_fetch_sniffs_plain_text_as_text(public: LoopbackServer, resolver: MapResolver) -> None:
    fetched = await fetch_guarded(f"http://public.test:{public.port}/text", policy=POLICY, resolver=resolver)
    assert fetched.mime_type == "text/plain"


async def test_fetch_follows_redirects_up_to_the_limit(public: LoopbackServer, resolver: MapResolver) -> None:
    fetched = await fetch_guarded(
        f"http://public.test:{public.port}/chain/3", policy=POLICY, resolver=resolver
    )
    assert (fetched, [path for path, _ in public.requests], resolver.lookups) == (
        Fetched(url=f"http://public.test:{public.port}/chain/0", body=PNG, mime_type="image/png"),
        ["/chain/3", "/chain/2", "/chain/1", "/chain/0"],
        ["public.test"] * 4,  # every hop is resolved and vetted afresh
    )


async def test_fetch_accepts_a_body_of_exactly_max_bytes(
    public: LoopbackServer, resolver: MapResolver
) -> None:
    policy = dataclasses.replace(POLICY, max_bytes=4096)
    fetched = await fetch_guarded(
        f"http://public.test:{public.port}/sized?n=4096", policy=policy, resolver=resolver
    )
    assert (len(fetched.body), fetched.mime_type) == (4096, "image/png")


async def test_allow_private_lets_the_mechanism_reach_loopback(
    internal: LoopbackServer, resolver: MapResolver
) -> None:
    policy = FetchPolicy(allowed_schemes=frozenset({"http"}), allow_private=True)
    url = f"http://loopback.test:{internal.port}/png"
    assert await fetch_guarded(url, policy=policy, resolver=resolver) == Fetched(url, PNG, "image/png")


# --- addresses that are never contacted -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{internal}/png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{internal}/png",
        "http://[::ffff:127.0.0.1]:{internal}/png",
        "http://internal.test/png",  # resolves to 10.0.0.5
        "http://loopback.test:{internal}/png",
        "http://mixed.test:{internal}/png",  # one public and one private address: still refused
    ],
)
async def test_fetch_refuses_non_public_hosts_before_connecting(
    url: str, internal: LoopbackServer, resolver: MapResolver
) -> None:
    async with RecordingTransport() as transport:
        details = await fetch_error(url.format(internal=internal.port), resolver, transport=transport)
    assert (details, transport.sent, internal.requests) == ([FieldError("image_url", NOT_PUBLIC)], [], [])


async def test_the_system_resolver_answers_for_localhost_and_is_refused(internal: LoopbackServer) -> None:
    with pytest.raises(ValidationFailed) as exc_info:
        await fetch_guarded(f"http://localhost:{internal.port}/png", policy=POLICY, resolver=SystemResolver())
    assert (exc_info.value.details, internal.requests) == ([FieldError("url", NOT_PUBLIC)], [])


async def test_system_resolver_returns_ip_strings() -> None:
    assert await SystemResolver().resolve("127.0.0.1", 80) == ["127.0.0.1"]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{internal}/png",
        "http://router.test/admin",  # resolves to 192.168.1.1
        "http://169.254.169.254/latest/meta-data/",
        "http://loopback.test:{internal}/png",
    ],
)
async def test_fetch_refuses_a_redirect_to_a_non_public_host(
    target: str, public: LoopbackServer, internal: LoopbackServer, resolver: MapResolver
) -> None:
    location = urllib.parse.quote(target.format(internal=internal.port), safe="")
    details = await fetch_error(f"http://public.test:{public.port}/redirect?to={location}", resolver)
    assert (details, len(public.requests), internal.requests) == (
        [FieldError("image_url", REDIRECT_NOT_PUBLIC)],
        1,
        [],
    )


# --- URL rules --------------------------------------------------------------------------------


async def test_default_policy_allows_https_only(public: LoopbackServer, resolver: MapResolver) -> None:
    policy = FetchPolicy(allowed_test_networks=POLICY.allowed_test_networks)  # default schemes
    details = await fetch_error(f"http://public.test:{public.port}/png", resolver, policy)
    assert (details, resolver.lookups, public.requests) == (
        [FieldError("image_url", "URL scheme 'http' is not allowed", allowed=["https"])],
        [],
        [],
    )


@pytest.mark.parametrize(
    ("url", "issue"),
    [
        ("ftp://public.test/png", "URL scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "URL scheme 'file' is not allowed"),
        ("/png", "URL has no scheme"),
    ],
)
async def test_fetch_refuses_other_schemes(url: str, issue: str, resolver: MapResolver) -> None:
    assert await fetch_error(url, resolver) == [FieldError("image_url", issue, allowed=["http"])]


async def test_fetch_refuses_credentials_in_the_url(public: LoopbackServer, resolver: MapResolver) -> None:
    details = await fetch_error(f"http://user:secret@public.test:{public.port}/png", resolver)
    assert (details, public.requests) == ([FieldError("image_url", "URL must not contain credentials")], [])


async def test_fetch_refuses_a_redirect_to_a_disallowed_scheme(
    public: LoopbackServer, resolver: MapResolver
) -> None:
    location = urllib.parse.quote(f"https://public.test:{public.port}/png", safe="")
    details = await fetch_error(
        f"http://public.test:{public.port}/redirect?to={location}&status=301", resolver
    )
    assert details == [
        FieldError("image_url", "redirect target scheme 'https' is not allowed", allowed=["http"])
    ]


async def test_fetch_refuses_more_redirects_than_the_limit(
    public: LoopbackServer, resolver: MapResolver
) -> None:
    details = await fetch_error(f"http://public.test:{public.port}/chain/4", resolver)
    assert (details, len(public.requests)) == ([FieldError("image_url", "redirected more than 3 times")], 4)


async def test_fetch_reports_a_host_that_does_not_resolve(resolver: MapResolver) -> None:
    details = await fetch_error("http://nowhere.test/png", resolver)
    assert details == [FieldError("image_url", "URL host could not be resolved")]


# --- responses that are refused ---------------------------------------------------------------


@pytest.mark.parametrize("declare", ["1", "0"], ids=["declared-length", "streamed"])
async def test_fetch_cuts_off_a_body_over_max_bytes(
    public: LoopbackServer, resolver: MapResolver, declare: str
) -> None:
    policy = dataclasses.replace(POLICY, max_bytes=4096)
    details = await fetch_error(
        f"http://public.test:{public.port}/sized?n=200000&declare={declare}", resolver, policy
    )
    assert details == [FieldError("image_url", "is larger than 4096 bytes", allowed="at most 4096 bytes")]


async def test_fetch_bounds_the_whole_transfer_in_time(public: LoopbackServer, resolver: MapResolver) -> None:
    policy = dataclasses.replace(POLICY, timeout_s=0.5)
    started = time.monotonic()
    details = await fetch_error(f"http://public.test:{public.port}/drip", resolver, policy)
    assert (details, time.monotonic() - started < 2.0) == (
        [FieldError("image_url", "timed out after 0.5 s")],
        True,
    )


@pytest.mark.parametrize(
    ("path", "issue"),
    [
        ("/missing", "answered HTTP 404"),
        ("/noise", "content type is not recognised"),
        ("/empty", "content is empty"),
        ("/gzip", "was served with Content-Encoding 'gzip', which is not accepted"),
    ],
)
async def test_fetch_refuses_unusable_answers(
    public: LoopbackServer, resolver: MapResolver, path: str, issue: str
) -> None:
    assert await fetch_error(f"http://public.test:{public.port}{path}", resolver) == [
        FieldError("image_url", issue)
    ]


# --- HTTPS: pinned address, original name for SNI and certificate -----------------------------


def self_signed(host_name: str) -> tuple[bytes, bytes]:
    """PEM certificate and key for ``host_name``, valid for a day, its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def https_server(certificate: bytes, key: bytes, folder: Path, seen_names: list[str]) -> LoopbackServer:
    (folder / "cert.pem").write_bytes(certificate)
    (folder / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    context.sni_callback = lambda _sock, name, _ctx: seen_names.append(str(name))
    return LoopbackServer(PUBLIC_IP, ssl_context=context)


async def test_https_fetch_sends_the_host_name_as_sni_and_verifies_it(
    resolver: MapResolver, tmp_path: Path
) -> None:
    certificate, key = self_signed("public.test")
    seen_names: list[str] = []
    policy = dataclasses.replace(POLICY, allowed_schemes=frozenset({"https"}))
    trust = ssl.create_default_context(cadata=certificate.decode())
    with https_server(certificate, key, tmp_path, seen_names) as server:
        async with RecordingTransport(verify=trust) as transport:
            url = f"https://public.test:{server.port}/png"
            fetched = await fetch_guarded(url, policy=policy, resolver=resolver, transport=transport)
    assert (fetched, transport.sent, seen_names) == (
        Fetched(url, PNG, "image/png"),
        [(f"https://{PUBLIC_IP}:{server.port}/png", f"public.test:{server.port}", "public.test")],
        ["public.test"],
    )


async def test_https_fetch_fails_when_the_certificate_is_for_another_name(
    resolver: MapResolver, tmp_path: Path
) -> None:
    certificate, key = self_signed("other.test")
    policy = dataclasses.replace(POLICY, allowed_schemes=frozenset({"https"}))
    trust = ssl.create_default_context(cadata=certificate.decode())
    with https_server(certificate, key, tmp_path, []) as server:
        async with RecordingTransport(verify=trust) as transport:
            details = await fetch_error(
                f"https://public.test:{server.port}/png", resolver, policy, transport=transport
            )
        assert (details, server.requests) == (
            [FieldError("image_url", "could not be fetched: the connection failed")],
            [],
        )


# --- is_public_ip -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2002:808:808::1"],
)
def test_public_addresses_are_public(ip: str) -> None:
    assert is_public_ip(ip) is True


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "127.255.255.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "198.18.0.1",
        "::",
        "::1",
        "::127.0.0.1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001::1",  # Teredo
        "2001:db8::1",
        "not-an-ip",
        "",
    ],
)
def test_non_public_addresses_are_not_public(ip: str) -> None:
    assert is_public_ip(ip) is False


def test_a_policy_rejects_a_malformed_test_network() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(allowed_test_networks=frozenset({"127.0.0.300/32"}))
