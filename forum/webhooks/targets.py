"""Where a webhook may be delivered (the SSRF guard), and the one HTTP request that delivers it.

A webhook's address is chosen by a sysop, but the request leaves from the forum's own
network: without a guard it could reach the database, the cache, a cloud's metadata service
or an admin page on loopback. So the host is resolved, *every* address it resolves to is
checked, and the connection is made to an address that was checked (never resolved again, so
a DNS answer that changes between the check and the connect, "DNS rebinding", changes
nothing). Redirects are not followed, and no proxy from the environment is used.

Refused: loopback, private networks (RFC 1918, unique local IPv6, carrier-grade NAT) and every
other address that is not globally routable — unless `allow_private` (a site setting, for a
forum whose receivers run beside it; the tests' receiver listens on loopback). Link-local
addresses and the cloud metadata services are refused whatever the setting says.

No Flask and no database here: plain functions the services call.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The cloud metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254, also link-local),
# AWS over IPv6, Alibaba (100.100.100.200), Oracle (192.0.0.192).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
DEFAULT_PORTS = {"http": 80, "https": 443}
USER_AGENT = "forum-webhooks/1"
# What an answer's body may fill in the delivery log.
RESPONSE_KEEP = 500


class TargetRefused(Exception):
    """The address may not be called; the message says why (shown to the sysop)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # a short code: "scheme", "host", "resolve", "address"
        self.detail = detail


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query


def parse(url: str) -> Target:
    """Check the address's form: http or https, a host, no user or password in it."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("url") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise TargetRefused("scheme", parts.scheme)
    if not parts.hostname:
        raise TargetRefused("host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("credentials")
    if parts.fragment:
        raise TargetRefused("fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path)


def address_problem(address: IPAddress, allow_private: bool) -> str | None:
    """Why this address may not be called, or None."""
    if address.version == 6 and address.ipv4_mapped is not None:  # type: ignore[union-attr]
        return address_problem(address.ipv4_mapped, allow_private)  # type: ignore[union-attr]
    if address in METADATA:
        return "metadata"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_unspecified:
        return "reserved"
    if address.is_loopback:
        return None if allow_private else "loopback"
    if address.is_global:
        return None
    if address.is_private:
        return None if allow_private else "private"
    return "reserved"  # documentation, benchmarking, carrier-grade NAT, …


Resolver = Callable[[str, int], list[str]]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(
    target: Target, allow_private: bool, resolve: Resolver | None = None
) -> list[IPAddress]:
    """Every address the host resolves to, each checked; TargetRefused if any is refused (a
    name that points at one public and one private address is refused: the resolver on the
    other side chooses which one a client gets)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    else:
        try:
            raw = (resolve or _resolve)(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused("resolve", str(exc)[:200]) from None
        found = []
        for text in raw:
            try:
                found.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError:
                raise TargetRefused("resolve", text[:100]) from None
    if not found:
        raise TargetRefused("resolve", target.host)
    for address in found:
        problem = address_problem(address, allow_private)
        if problem:
            raise TargetRefused("address", f"{address} ({problem})")
    return found


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to an address checked beforehand; the Host header still names the host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand: the certificate is checked against the host
    name (SNI too), never against the address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    response: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,
    resolve: Resolver | None = None,
) -> Outcome:
    """POST `body` to `url` after the checks above. Never raises for the receiver's faults:
    a refused address, a timeout or a connection error is an Outcome with an error."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = parse(url)
        addresses = checked_addresses(target, allow_private, resolve)
    except TargetRefused as exc:
        return Outcome(None, f"refused: {exc}"[:500], "", took())
    sent = {"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers}
    errors: list[str] = []
    for address in addresses:  # each one checked; the first that connects answers
        kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
        connection = kind(target.host, target.port, str(address), timeout)
        try:
            connection.request("POST", target.path, body=body, headers=sent)
            answer = connection.getresponse()
            text = answer.read(RESPONSE_KEEP * 4).decode("utf-8", "replace")[:RESPONSE_KEEP]
            return Outcome(answer.status, None, text, took())
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{address}: {type(exc).__name__}: {exc}"[:200])
        finally:
            connection.close()
    return Outcome(None, "; ".join(errors)[:500], "", took())
