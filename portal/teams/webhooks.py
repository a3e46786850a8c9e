"""Where a team's alert webhook may point: not at the portal's own host nor its cloud's metadata.

The portal POSTs alerts to the address a team owner typed; without a check, an owner could make
it post to services that answer only this host (loopback: the portal's own pages and metrics, the
registry, the package cache) or to the link-local metadata service that hands out a cloud host's
credentials. Private networks stay allowed: company chat and incident tools live there. Checked
when the address is saved (a clear error) and again when an alert is sent (a name may resolve
elsewhere by then), with redirects not followed. ALERT_WEBHOOK_ALLOW_LOCAL lifts it (a receiver on
the portal's own host, as the tests run one)."""
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `text` spells (an IPv6 zone dropped, an IPv4-mapped one as IPv4), or None."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip


def _forbidden(ip) -> bool:
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved


def webhook_address_refusal(url: str) -> str:
    """Why alerts may not be sent to `url` ("" when they may): a host of this machine or a link-local
    address, named literally or by a name that resolves to one. A name that does not resolve is not
    refused here: the send fails and says so."""
    if settings.ALERT_WEBHOOK_ALLOW_LOCAL:
        return ""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this host: alerts go to a receiver elsewhere on the network."
    try:
        addresses = [host] if _address(host) else [info[4][0] for info in socket.getaddrinfo(host, None)]
    except (socket.gaierror, UnicodeError):
        return ""
    for address in addresses:
        if _forbidden(_address(address)):
            return (f"{host} is {address}, an address of this host or a link-local one (such as a cloud's "
                    "metadata service): alerts go to a receiver elsewhere on the network.")
    return ""
