"""CLINICAL.md's invariants and the guardrails, for every product of issue #22."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taper
from tests.support.invariants import (
    DRUG_PRODUCTS,
    assert_invariants,
    drug_invariant_options,
    drug_requests,
)


@pytest.mark.parametrize("product", DRUG_PRODUCTS)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_it_keeps_every_invariant_for_any_valid_regimen_of_every_product(
    product: str, data: st.DataObject
) -> None:
    request_data: dict[str, Any] = data.draw(drug_requests(product))
    request = taper.parse_request(request_data)
    assert_invariants(request_data, request, taper.plan(request), **drug_invariant_options(product))
