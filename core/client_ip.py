"""Which address is the client's: the one rule, so that login lockout, device
sessions and audit entries agree and a client cannot pick its own IP."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


def normalize_ip(value: str | None) -> str | None:
    """A valid IP address as text, IPv4-mapped IPv6 unpacked; else None."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _is_trusted_proxy(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in net for net in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, unless it is a trusted proxy (settings.TRUSTED_PROXIES):
    then the right-most X-Forwarded-For address that is not a trusted proxy.
    Addresses left of that one were written by the client and prove nothing."""
    ip = normalize_ip(request.META.get("REMOTE_ADDR"))
    if ip is None or not settings.TRUSTED_PROXIES or not _is_trusted_proxy(ip):
        return ip
    forwarded = [normalize_ip(part) for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(forwarded):
        if hop is None:
            break  # garbage in the chain: stop trusting it, keep the last good hop
        ip = hop
        if not _is_trusted_proxy(hop):
            break
    return ip
