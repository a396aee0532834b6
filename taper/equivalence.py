"""Equivalence tables for switching one drug to another before a taper (issue #22).

A table is a versioned data file, taper/equivalence/<id>/<version>.toml, with per drug
the factor used (mg of the target drug per mg of the drug), the range the literature
gives and the source of each. A class protocol names the table it switches with
(`switch_equivalence`), so a plan's protocol version fixes its table too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path

from taper.datafile import DataFileError, DataTable, read_toml

EQUIVALENCE_DIR = Path(__file__).resolve().parent / "equivalence"
_TOP_KEYS = {"id", "version", "to_drug", "to_product", "source", "factor_choice", "drugs"}
_DRUG_KEYS = {"drug", "factor", "factor_source", "range", "range_source"}


class EquivalenceError(DataFileError):
    """An equivalence file is missing, unreadable or malformed."""


@dataclass(frozen=True, slots=True)
class EquivalenceEntry:
    drug: str
    factor: Decimal  # mg of the table's to_drug per mg of this drug
    factor_source: str
    range: tuple[Decimal, Decimal]  # the lowest and highest factor the literature gives
    range_source: str


@dataclass(frozen=True, slots=True)
class EquivalenceTable:
    id: str
    version: str
    to_drug: str
    to_product: str
    source: str
    factor_choice: str
    entries: tuple[EquivalenceEntry, ...]

    @property
    def reference(self) -> str:
        """How a protocol names this table: "<id>/<version>"."""
        return f"{self.id}/{self.version}"

    def entry(self, drug: str) -> EquivalenceEntry | None:
        for entry in self.entries:
            if entry.drug == drug:
                return entry
        return None


def equivalent_dose_mg(amount_mg: Decimal, factor: Decimal, quantum: Decimal) -> Decimal:
    """One dose in the target drug: amount × factor, rounded UP to the target's dose step,
    so a switch never cuts the equivalent dose (the first law)."""
    return (amount_mg * factor / quantum).to_integral_value(rounding=ROUND_CEILING) * quantum


@lru_cache(maxsize=8)
def load_equivalence(reference: str, base: Path = EQUIVALENCE_DIR) -> EquivalenceTable:
    """The table "<id>/<version>" from base/<id>/<version>.toml."""
    table_id, _, version = reference.partition("/")
    path = base / table_id / f"{version}.toml"
    if not version or not path.is_file():
        raise EquivalenceError(f"no equivalence table {reference!r} ({path})")
    top = read_toml(path, EquivalenceError)
    top.only_keys(_TOP_KEYS)
    if (top.text("id"), top.text("version")) != (table_id, version):
        top.fail("id", f"expected id {table_id!r} and version {version!r} (the file's place)")
    entries = tuple(_entry(item) for item in top.tables("drugs"))
    drugs = [entry.drug for entry in entries]
    if len(set(drugs)) != len(drugs):
        top.fail("drugs", "a drug is listed twice")
    return EquivalenceTable(
        id=table_id,
        version=version,
        to_drug=top.text("to_drug"),
        to_product=top.text("to_product"),
        source=top.text("source"),
        factor_choice=top.text("factor_choice"),
        entries=entries,
    )


def _entry(table: DataTable) -> EquivalenceEntry:
    table.only_keys(_DRUG_KEYS)
    factor = table.positive_number("factor")
    raw = table.raw("range")
    if not isinstance(raw, list) or len(raw) != 2:
        table.fail("range", "expected [lowest, highest]")
    low, high = (_positive(table, value) for value in raw)
    if not low <= factor <= high:
        table.fail("factor", "expected a factor within its range")
    return EquivalenceEntry(
        drug=table.text("drug"),
        factor=factor,
        factor_source=table.text("factor_source"),
        range=(low, high),
        range_source=table.text("range_source"),
    )


def _positive(table: DataTable, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value <= 0:
        table.fail("range", "expected two positive numbers")
    return Decimal(value)
