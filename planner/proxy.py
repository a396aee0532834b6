"""Where the client's address is read from, for django-axes (through django-ipware).

The README puts the site behind one TLS proxy that appends the address it saw to
`X-Forwarded-For` (nginx: `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`).
Then the right-most entry is the only one a client cannot forge: anything to its left
is what the client sent. Without the proxy the header is the client's own words, so it
is not read at all and `REMOTE_ADDR` is the address.

django-ipware's own proxy count counts proxies listed *in* the header, which the one
proxy of the README does not add, so it stays unset: the right-most entry is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class ClientAddressSettings:
    AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...]
    AXES_IPWARE_PROXY_ORDER: str
    AXES_IPWARE_PROXY_COUNT: int | None = None


def client_address_settings(proxies: int) -> ClientAddressSettings:
    """django-axes' address settings for `proxies` proxies in front of gunicorn (0 or 1)."""
    if proxies == 0:
        return ClientAddressSettings(("REMOTE_ADDR",), "left-most")
    if proxies == 1:
        return ClientAddressSettings(("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"), "right-most")
    raise ImproperlyConfigured(
        "AXES_PROXY_COUNT must be 0 (no proxy) or 1 (one TLS proxy that appends the client "
        "address to X-Forwarded-For); put one proxy in front of the site."
    )
