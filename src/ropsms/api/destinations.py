"""Where the gateway may send a client's delivery callbacks (server-side request forgery guard).

A callback URL is chosen by the API client, and the gateway then makes requests from inside the
network. Without a check, a client could point it at the gateway's own admin ports, a database on
localhost or a cloud metadata address, and read the answers' status codes back in the admin.

Refused by default: loopback, link-local (169.254.0.0/16, including cloud metadata, fe80::/10),
unspecified, multicast and reserved addresses, also written as IPv4-mapped IPv6. Private networks
(10/8, 172.16/12, 192.168/16, fc00::/7) are allowed, because the integrators (eVisa, ePolice, call
centres) are on the intranet; `ROPSMS_CALLBACK_PRIVATE=deny` refuses them too for a gateway that
only calls out to the internet. `ROPSMS_CALLBACK_ALLOW_NETWORKS` (comma-separated CIDRs) lets
chosen networks through whatever their kind, e.g. `127.0.0.1/32` for a receiver on the same host.

The host name is resolved once, every address checked, and the request then goes to the checked
address (the name kept in the Host header and for TLS), so a name cannot be re-pointed at an
internal address between the check and the request (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class Refused(ValueError):
    """This destination is not allowed; the message says why (shown to the client and the admin)."""


@dataclass(frozen=True)
class Target:
    url: str            # the URL with the host replaced by the checked address
    host_header: str    # what the Host header must say (the name, with a non-default port)
    server_name: str    # for TLS: SNI and the certificate check


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.ROPSMS["CALLBACK_ALLOW_NETWORKS"]]


def check_address(ip: Address) -> None:
    """Raise `Refused` unless a request to `ip` is allowed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _allowed_networks()):
        return
    for kind, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("unspecified", ip.is_unspecified), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved)):
        if flag:
            raise Refused(f"callbacks to {kind} addresses ({ip}) are not allowed")
    if ip.is_private and settings.ROPSMS["CALLBACK_PRIVATE"] == "deny":
        raise Refused(f"callbacks to private addresses ({ip}) are not allowed")


def check_url(url: str) -> None:
    """The check at the door (the API refuses the request with 422): the scheme, and the host when
    it is an address or `localhost`. Names are checked again, resolved, at every attempt."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the callback URL must be http:// or https:// with a host")
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        check_address(ipaddress.ip_address("127.0.0.1"))
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    check_address(ip)


def _system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def pin(url: str, resolve: Resolver = _system_resolver) -> Target:
    """Resolve the URL's host, check every address, and return the request to make."""
    check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
    except OSError as exc:
        raise Refused(f"the callback host {host} could not be resolved ({exc})") from exc
    if not addresses:
        raise Refused(f"the callback host {host} has no address")
    for ip in addresses:  # all of them: a name must not hide an internal address among public ones
        check_address(ip)
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal + (f":{parts.port}" if parts.port else "")
    host_header = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return Target(url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host_header=host_header, server_name=host)
