"""Paths of the site's pages for many links at once: a dashboard page of rows, a batch
of reminders with six links each. Django's reverse() resolves every call; here each route
is reversed once per process and script prefix and the argument put in its place."""

from __future__ import annotations

import functools
import string

from django.urls import NoReverseMatch, get_script_prefix, reverse

# Characters reverse() leaves as they are in a path argument (signed tokens, ids).
_PATH_SAFE = frozenset(string.ascii_letters + string.digits + "-_.:")


@functools.lru_cache(maxsize=64)
def _route(name: str, script_prefix: str, digits: bool) -> tuple[str, str] | None:
    """The path reverse() gives for `name` (under `script_prefix`), split where its one
    argument goes; a stand-in argument of digits for an argument of digits, of letters
    otherwise, so the route's converter (int, str) accepts it as it would the real one.
    None: the route refuses such an argument (reverse() then says so)."""
    marker = "9876543210" if digits else "ARGUMENT"
    try:
        path = reverse(name, args=[marker])
    except NoReverseMatch:
        return None
    before, _, after = path.partition(marker)
    return before, after


@functools.lru_cache(maxsize=32)
def _fixed_path(name: str, script_prefix: str) -> str:
    return reverse(name)


def url_path(name: str, argument: object = None) -> str:
    """reverse(name, args=[argument]) without the URL resolver for each link (six in a
    dose reminder, a sixth of its cost, issue #17; about 150 on a dashboard page, #18):
    the route is reversed once per process and script prefix, and an argument of plain
    characters put in its place; anything else goes through reverse()."""
    if argument is None:
        return _fixed_path(name, get_script_prefix())
    text = str(argument)
    route = (
        _route(name, get_script_prefix(), text.isdigit())
        if text and _PATH_SAFE.issuperset(text)
        else None
    )
    if route is None:
        return reverse(name, args=[argument])
    return route[0] + text + route[1]
