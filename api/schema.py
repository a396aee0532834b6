"""OpenAPI generation: every operation documents its refusals, so a client (and the
schema tests) know each status code the API can answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from api.serializers import DetailSerializer, ErrorsSerializer


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        refusals: dict[str, Any] = {
            "400": ErrorsSerializer,
            "401": DetailSerializer,
            "403": DetailSerializer,
            "404": DetailSerializer,
        }
        if self.method in ("POST", "PUT", "PATCH"):
            refusals["413"] = DetailSerializer
            refusals["415"] = DetailSerializer
        for code, serializer in refusals.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(serializer, code)  # type: ignore[no-untyped-call]
        return responses


class HashedTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """`Authorization: Token <key>` (api.authentication)."""

    target_class = "api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> Any:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"  # noqa: S106  # the scheme's name
        )
