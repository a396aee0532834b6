"""Every invariant of CLINICAL.md, over random valid oral regimens."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import taper
from tests.support.invariants import assert_invariants, oral_requests


@settings(max_examples=500, deadline=None)
@given(oral_requests())
def test_it_keeps_every_invariant_for_any_valid_oral_regimen(data: dict[str, Any]) -> None:
    request = taper.parse_request(data)
    assert_invariants(data, request, taper.plan(request))
