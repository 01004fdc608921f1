"""The outbound-address policy: where Relais may open a connection, outside demo mode.

Firm administrators type partner API URLs and Teams hands the bot file links; Relais then
connects there, with a document and, for partners, the stored secret. Left alone, an
administrator could aim that at the server's own network (``https://127.0.0.1``, a cloud
metadata address, ``https://2130706433/``, ``https://[::ffff:10.0.0.1]/``…) and read the
answers, or their differences, back on the dashboard. So outside demo mode a connection goes
only over https, to a host whose every address is public:

* :meth:`AddressPolicy.check_url` is the save-time check (the application wizard and edit form);
* :class:`VettedTransport` is the connect-time one, for every request of the partner client and
  the Teams file downloads. It resolves the name itself, checks every address, and connects to
  the checked address, the TLS SNI and ``Host`` staying the name's: a name that resolved to a
  public address at save time and to ``127.0.0.1`` now (DNS rebinding) is refused.

Every refusal is an :class:`AddressRefused`, whatever its cause; what people are shown is
:data:`UNREACHABLE` and nothing else, so that "refused by the policy", "no such name",
"connection refused" and "timed out" cannot be told apart from the panel (a port scanner
otherwise). The cause is logged at INFO for operators (host and port, never a URL: a Teams link's
query string is a credential).

``RELAIS_OUTBOUND_ALLOW`` (:func:`parse_allow`) exempts test labs' hosts and networks from the
address check; https stays required. The demo has no policy at all (its fakes serve plain http
on loopback).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

import httpcore
import httpx

log = logging.getLogger(__name__)

UNREACHABLE = "application unreachable"
RESOLVE_TIMEOUT = 5.0

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
# ``(host, port)`` → the addresses the name stands for, as getaddrinfo gives them.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

# Python's ``is_global`` misses some of these (multicast counts as global, and 3.11 knows
# neither 192.0.0.0/24 nor the 6to4 relay), hence the explicit lists.
_REFUSED_V4 = tuple(
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
_REFUSED_V6 = tuple(
    IPv6Network(n)
    for n in (
        "::/8",  # unspecified, loopback, IPv4-compatible and IPv4-mapped
        "100::/64",
        "2001::/23",  # IETF protocols, Teredo among them
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
# Packets to these end up at the IPv4 address they carry: that address is the one judged.
_NAT64 = (IPv6Network("64:ff9b::/96"),)


class AddressRefused(httpcore.ConnectError):
    """Relais will not connect there. A ``ConnectError`` so that httpx reports it as one; the
    message is for the log only."""


def refused(address: Address) -> bool:
    """Whether ``address`` is one Relais never connects to: anything but a public unicast
    address, including IPv4 private addresses wrapped in IPv6 (6to4, NAT64)."""
    if isinstance(address, IPv4Address):
        return not address.is_global or any(address in n for n in _REFUSED_V4)
    address = IPv6Address(int(address))  # without its scope id (fe80::1%eth0): judged alike
    embedded = address.sixtofour
    if embedded is None and any(address in n for n in _NAT64):
        embedded = IPv4Address(int(address) & 0xFFFFFFFF)
    if embedded is not None:
        return refused(embedded)
    return not address.is_global or any(address in n for n in _REFUSED_V6)


def parse_allow(value: str | Iterable[str]) -> tuple[frozenset[str], tuple[Network, ...]]:
    """``RELAIS_OUTBOUND_ALLOW``: comma-separated host names and IP networks (``127.0.0.1``,
    ``10.1.0.0/16``, ``partner.lab``). Raises ``ValueError`` on an entry that is neither."""
    entries = value.split(",") if isinstance(value, str) else list(value)
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = _name(entry)
        if not name or not all(part.replace("-", "").isalnum() for part in name.split(".")):
            raise ValueError(f"{entry!r} is neither a host name nor an IP address or network")
        hosts.add(name)
    return frozenset(hosts), tuple(networks)


def _name(host: str) -> str:
    return host.strip().lower().rstrip(".")


async def system_resolve(host: str, port: int) -> list[str]:
    """getaddrinfo, off the event loop. On Linux it also reads the old IPv4 spellings
    (``127.1``, ``2130706433``, ``0x7f.1``) as the address they stand for."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class AddressPolicy:
    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    resolve: Resolver = system_resolve
    timeout: float = RESOLVE_TIMEOUT

    @classmethod
    def allowing(cls, allow: str | Iterable[str] = "", **options: Any) -> AddressPolicy:
        hosts, networks = parse_allow(allow)
        return cls(hosts, networks, **options)

    def exempt(self, host: str) -> bool:
        """Whether ``host`` (a name or a literal address) is on the allow list."""
        if _name(host) in self.hosts:
            return True
        try:
            address = ip_address(host.strip("[]"))
        except ValueError:
            return False
        return self._exempt_address(address)

    def _exempt_address(self, address: Address) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)

    async def addresses(self, host: str, port: int, within: float | None = None) -> list[str]:
        """The addresses to connect to for ``host``; :class:`AddressRefused` when it does not
        resolve, or when any of its addresses is refused (one bad record is enough: the
        client may pick any of them)."""
        limit = min(within, self.timeout) if within else self.timeout
        try:
            found = list(dict.fromkeys(await asyncio.wait_for(self.resolve(host, port), limit)))
        except (OSError, TimeoutError, UnicodeError) as error:
            raise self._refusal(host, port, f"does not resolve ({type(error).__name__})") from None
        if not found:
            raise self._refusal(host, port, "does not resolve")
        if _name(host) in self.hosts:
            return found
        for text in found:
            address = ip_address(text)
            if refused(address) and not self._exempt_address(address):
                raise self._refusal(host, port, f"resolves to the refused address {address}")
        return found

    async def check_url(self, url: str) -> None:
        """The save-time check: https, a host, no credentials in the URL, and every address of
        the host allowed. Raises :class:`AddressRefused`."""
        try:
            parsed = httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError):
            raise AddressRefused("not a URL") from None
        if parsed.scheme != "https" or not parsed.host or parsed.userinfo:
            raise AddressRefused("not a plain https URL")
        if _name(parsed.host) not in self.hosts:  # a lab's name need not resolve yet
            await self.addresses(parsed.host, parsed.port or 443)

    @staticmethod
    def _refusal(host: str, port: int, why: str) -> AddressRefused:
        log.info("outbound connection to %s:%d refused: %s", host, port, why)
        return AddressRefused(f"{host}:{port} {why}")


class VettedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy accepts: the name is
    resolved here and the socket opened to the checked address; httpcore then starts TLS with
    the name as SNI and checks the certificate against it."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.addresses(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                log.info("outbound connection to %s:%d (%s) failed: %r", host, port, address, error)
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` over :class:`VettedBackend`, https only."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, limits=limits)
        # httpx takes no network backend: the pool it built is replaced by one on ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=VettedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            log.info("outbound request to %s refused: not https", request.url.host)
            raise httpx.ConnectError("only https is allowed", request=request)
        return await super().handle_async_request(request)


def policy_for(demo: bool, allow: str) -> AddressPolicy | None:
    """The policy of a deployment: none in demo mode, else with its allow list."""
    return None if demo else AddressPolicy.allowing(allow)
