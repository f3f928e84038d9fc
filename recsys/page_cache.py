"""Rendered fragments of a member's pages (For you, Why?), cached under what they were rendered from.

A fragment's key names the member, the dataset, the model version, the member's history fingerprint
(``selectors.history_fingerprint``: any change of the history, a correction, an undo or a "Not interested"
changes it), the template's source (``template_version``: a release changing it is read at once) and the
catalogue version (bumped whenever an Item is saved or deleted, so an edited title is never served from an old
fragment). Nothing is ever invalidated: a change of any of these is a new key, and old entries expire.

Forms inside a fragment are rendered with a placeholder CSRF token that ``fill`` swaps for the request's
own, so a cached fragment never carries another request's (or another sign-in's) token.

Fragments are cached only when the cache is shared by every process (``HIKMAX["FRAGMENT_CACHE"]``, on by
default when CACHE_URL names a shared cache): a per-process cache would keep one process's fragments
after another process saw an Item edited.
"""

import hashlib
import uuid
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string
from django.utils.safestring import SafeString, mark_safe

CSRF_PLACEHOLDER = "hikmax-csrf-placeholder-0b5e7c"
CATALOGUE_VERSION_KEY = "hikmax:catalogue-version"
FRAGMENT_SECONDS = 24 * 3600


def enabled() -> bool:
    return bool(settings.HIKMAX.get("FRAGMENT_CACHE"))


def catalogue_version() -> str:
    """A token that changes whenever an Item is saved or deleted (a fresh one if the cache lost it)."""
    version = cache.get(CATALOGUE_VERSION_KEY)
    if version is None:
        cache.add(CATALOGUE_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(CATALOGUE_VERSION_KEY) or "unversioned"
    return version


def bump_catalogue_version(**kwargs) -> None:
    """Receiver of Item post_save / post_delete: every cached fragment naming an item is out of date."""
    cache.set(CATALOGUE_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def fragment(request, key: str, template: str, context_of) -> SafeString:
    """``template`` rendered with ``context_of()`` (called only when the fragment is not cached), the
    request's CSRF token in its forms. ``key`` must name everything the fragment depends on but the token."""
    html = None
    if enabled():
        key = f"{key}:{catalogue_version()}:{template_version(template)}"
        html = cache.get(key)
    if html is None:
        html = render_to_string(template, {**context_of(), "csrf_token": CSRF_PLACEHOLDER})
        if enabled():
            cache.set(key, html, timeout=FRAGMENT_SECONDS)
    return fill(request, html)


def template_version(template: str) -> str:
    """A digest of the fragment template's source: a release that changes it renders anew at once (the fragments
    cached before it would be shown for up to a day). Fragment templates include no other template."""
    return _digest(get_template(template).template.source)  # type: ignore[attr-defined]


@lru_cache(maxsize=64)
def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def fill(request, html: str) -> SafeString:
    return mark_safe(html.replace(CSRF_PLACEHOLDER, get_token(request)))
