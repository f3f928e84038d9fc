"""The client's address for throttling (django-axes' AXES_CLIENT_IP_CALLABLE and the sign-up limit).

Directly exposed (HIKMAX_TRUSTED_PROXIES=0, the default) it is REMOTE_ADDR and X-Forwarded-For is
ignored, since any client can write that header. Behind N trusted reverse proxies, each appending the
address it received from to X-Forwarded-For (nginx: `proxy_add_x_forwarded_for`), the client is the N-th
address from the right; entries further left were written by the client and are not trusted.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.HIKMAX["TRUSTED_PROXIES"]
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
