"""Reading the TOML data files (products and protocols) with errors that name file and key.

A clinic edits these files by hand, so a mistake must point at the exact line of
thought: "baclofen-oral.toml: step_interval_days.value: expected a positive integer".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import NoReturn


class DataFileError(ValueError):
    """A product or protocol file is missing, unreadable or malformed."""


def read_toml(path: Path, error: type[DataFileError]) -> DataTable:
    try:
        with path.open("rb") as handle:
            # Decimal, not float: doses and thresholds must compare exactly (2.5 mg, 0.5 mL).
            data = tomllib.load(handle, parse_float=Decimal)
    except OSError as exc:
        raise error(f"{_shown(path)}: cannot be read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{_shown(path)}: not valid TOML ({exc})") from exc
    return DataTable(file=_shown(path), path="", data=data, error=error)


@dataclass(frozen=True, slots=True)
class DataTable:
    """One table of a data file, remembering where it sits so errors can say so."""

    file: str
    path: str
    data: Mapping[str, object]
    error: type[DataFileError]

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        raise self.error(f"{self.file}: {self.key_path(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def only_keys(self, allowed: set[str]) -> None:
        # A misspelt key would otherwise be silently ignored and its default used.
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def raw(self, key: str) -> object:
        if key not in self.data:
            self.fail(key, "missing")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "expected a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if key in self.data else None

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            self.fail(key, "expected true or false")
        return value

    def positive_int(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.fail(key, "expected a positive integer")
        return value

    def positive_number(self, key: str) -> Decimal:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            self.fail(key, "expected a positive number")
        number = Decimal(value)
        if not number.is_finite() or number <= 0:
            self.fail(key, "expected a positive number")
        return number

    def positive_int_list(self, key: str) -> tuple[int, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            self.fail(key, "expected a non-empty list of positive integers")
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
                self.fail(key, "expected a non-empty list of positive integers")
        return tuple(value)

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            self.fail(key, "expected a non-empty list of strings")
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self.fail(key, "expected a non-empty list of strings")
        return tuple(value)

    def table(self, key: str) -> DataTable:
        value = self.raw(key)
        if not isinstance(value, dict):
            self.fail(key, "expected a table")
        return DataTable(self.file, self.key_path(key), value, self.error)

    def tables(self, key: str) -> tuple[DataTable, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            self.fail(key, "expected a non-empty array of tables")
        tables = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"{key}.{index}", "expected a table")
            tables.append(DataTable(self.file, self.key_path(f"{key}.{index}"), item, self.error))
        return tuple(tables)


def _shown(path: Path) -> str:
    """The file as errors name it: with its folder, since a protocol's folder is its id
    and its file name is its version (protocols/baclofen-oral/2.toml)."""
    return f"{path.parent.name}/{path.name}"
