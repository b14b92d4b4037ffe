"""Client addresses as the per-client limits count them (login, sign-up, chat connections)."""

import ipaddress


def client_key(address: str) -> str:
    """The throttling key of a client address.

    IPv6 clients are keyed by their /64: one subscriber usually holds a whole /64 and could
    otherwise take a fresh address for every guess.
    """
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
