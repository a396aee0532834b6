"""The product catalogue (taper/products/*.toml) and the protocols that go with it.

The engine never names a drug: a product's `drug` and `route` pick its protocol, so
another drug of the same shape is a products file, a protocol file and tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from taper.datafile import DataFileError, DataTable, read_toml
from taper.protocol import Protocol, load_protocol

DATA_DIR = Path(__file__).resolve().parent

# form → (route, unit of a strength, unit of the smallest measurable amount)
_FORMS = {
    "tablet": ("oral", "mg", "mg"),
    "liquid": ("oral", "mg/mL", "mL"),
    "intrathecal": ("intrathecal", "mcg/mL", None),
}
_PRODUCT_KEYS = {
    "id",
    "drug",
    "name",
    "route",
    "form",
    "dose_unit",
    "smallest_measurable",
    "smallest_measurable_unit",
    "smallest_measurable_source",
    "source",
    "strengths",
}
_STRENGTH_KEYS = {"amount", "unit", "splittable", "splittable_source", "ndc", "brand"}
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_NDC = re.compile(r"\d{4,5}-\d{3,4}(-\d{1,2})?")


class CatalogueError(DataFileError):
    """A products file is missing, unreadable or malformed, or has no protocol."""


class UnknownProtocolVersion(CatalogueError):
    """A plan names a protocol version that is not on disk."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True, slots=True)
class Strength:
    """mg per tablet, mg/mL of an oral liquid, or mcg/mL of an intrathecal solution."""

    amount: Decimal
    unit: str
    splittable: bool
    splittable_source: str | None
    ndc: str | None
    brand: str | None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    drug: str
    name: str
    route: str
    form: str
    dose_unit: str
    strengths: tuple[Strength, ...]
    # Tablets: mg (half the smallest splittable tablet); liquids: mL; pump solutions: None.
    smallest_measurable: Decimal | None
    smallest_measurable_unit: str | None
    smallest_measurable_source: str | None
    source: str

    @property
    def is_tablet(self) -> bool:
        return self.form == "tablet"

    @property
    def is_liquid(self) -> bool:
        return self.form == "liquid"

    @property
    def is_intrathecal(self) -> bool:
        return self.route == "intrathecal"

    @property
    def concentration_mg_per_ml(self) -> Decimal:
        """The one strength of an oral liquid."""
        return self.strengths[0].amount

    @property
    def dose_quantum_mg(self) -> Decimal:
        """The smallest dose step in mg: every single dose is a whole number of these."""
        if self.smallest_measurable is None:
            raise ValueError(f"{self.id} has no measurable oral dose step")
        if self.is_liquid:
            return self.smallest_measurable * self.concentration_mg_per_ml
        return self.smallest_measurable

    @property
    def strength_amounts(self) -> tuple[Decimal, ...]:
        return tuple(strength.amount for strength in self.strengths)


@dataclass(frozen=True, slots=True)
class Catalogue:
    products: tuple[Product, ...]
    protocols: tuple[Protocol, ...]

    def product(self, product_id: str) -> Product | None:
        for product in self.products:
            if product.id == product_id:
                return product
        return None

    def protocol_versions(self, product: Product) -> tuple[Protocol, ...]:
        """Every version on disk of the product's protocol, oldest first."""
        return tuple(
            protocol
            for protocol in self.protocols
            if protocol.drug == product.drug and protocol.route == product.route
        )

    def protocol_for(self, product: Product, version: str | None = None) -> Protocol:
        """The product's protocol: the newest version, or the one named. A plan that was
        approved under a version is always re-planned under that version."""
        versions = self.protocol_versions(product)
        if not versions:
            raise CatalogueError(f"no protocol for {product.drug} ({product.route})")
        if version is None:
            return versions[-1]
        for protocol in versions:
            if protocol.version == version:
                return protocol
        known = ", ".join(protocol.version for protocol in versions)
        raise UnknownProtocolVersion(
            f"{versions[-1].id} has no version {version!r} (versions on disk: {known})"
        )


@lru_cache(maxsize=8)
def load_catalogue(data_dir: Path = DATA_DIR) -> Catalogue:
    """Load every products/*.toml and protocols/<id>/<version>.toml under data_dir, once
    per directory. Old protocol versions stay on disk and loadable: a revision is always
    re-planned with the version it recorded."""
    product_files = sorted((data_dir / "products").glob("*.toml"))
    protocol_files = sorted((data_dir / "protocols").glob("*/*.toml"))
    if not product_files:
        raise CatalogueError(f"no product files in {data_dir / 'products'}")
    products = tuple(product for path in product_files for product in _load_products_file(path))
    protocols = tuple(
        sorted(
            (_load_protocol_file(path) for path in protocol_files),
            key=lambda protocol: (protocol.id, _version_key(protocol.version)),
        )
    )

    seen_ids: set[str] = set()
    for product in products:
        if product.id in seen_ids:
            raise CatalogueError(f"product id {product.id!r} is defined twice")
        seen_ids.add(product.id)
    ids_of: dict[tuple[str, str], str] = {}
    for protocol in protocols:
        key = (protocol.drug, protocol.route)
        if ids_of.setdefault(key, protocol.id) != protocol.id:
            raise CatalogueError(
                f"{protocol.id}: a second protocol for {protocol.drug} ({protocol.route})"
            )
    catalogue = Catalogue(products=products, protocols=protocols)
    for product in products:
        catalogue.protocol_for(product)  # fail at load time, not on the first plan
    return catalogue


def _load_protocol_file(path: Path) -> Protocol:
    """protocols/<id>/<version>.toml: the folder and file name must say what the file does."""
    protocol = load_protocol(path)
    if not re.fullmatch(r"\d+(\.\d+)*", protocol.version):
        raise CatalogueError(f"{path}: version {protocol.version!r} is not a number like 2 or 2.1")
    if (path.parent.name, path.stem) != (protocol.id, protocol.version):
        raise CatalogueError(
            f"{path}: holds {protocol.id} version {protocol.version}; "
            f"it belongs in protocols/{protocol.id}/{protocol.version}.toml"
        )
    return protocol


def list_products(data_dir: Path = DATA_DIR) -> list[Product]:
    return list(load_catalogue(data_dir).products)


def _load_products_file(path: Path) -> tuple[Product, ...]:
    top = read_toml(path, CatalogueError)
    top.only_keys({"products"})
    return tuple(_product(table) for table in top.tables("products"))


def _product(table: DataTable) -> Product:
    table.only_keys(_PRODUCT_KEYS)
    product_id = table.text("id")
    if not _ID.fullmatch(product_id):
        table.fail("id", "expected lower-case words joined by hyphens")
    form = table.text("form")
    if form not in _FORMS:
        table.fail("form", f"expected one of: {', '.join(_FORMS)}")
    route, strength_unit, measurable_unit = _FORMS[form]
    if table.text("route") != route:
        table.fail("route", f'expected "{route}" for a {form}')
    dose_unit = table.text("dose_unit")
    expected_dose_unit = strength_unit.split("/")[0]
    if dose_unit != expected_dose_unit:
        table.fail("dose_unit", f'expected "{expected_dose_unit}" for a {form}')

    strengths = tuple(_strength(item, strength_unit, form) for item in table.tables("strengths"))
    amounts = [strength.amount for strength in strengths]
    if len(set(amounts)) != len(amounts):
        table.fail("strengths", "a strength is listed twice")
    if form == "liquid" and len(strengths) != 1:
        table.fail("strengths", "expected exactly one concentration for a liquid")

    smallest: Decimal | None = None
    source: str | None = None
    if measurable_unit is not None:
        smallest = table.positive_number("smallest_measurable")
        source = table.text("smallest_measurable_source")
        if table.text("smallest_measurable_unit") != measurable_unit:
            table.fail("smallest_measurable_unit", f'expected "{measurable_unit}" for a {form}')
        if form == "tablet":
            _check_tablet_step(table, strengths, smallest)
    elif table.has("smallest_measurable"):
        table.fail("smallest_measurable", f"not used for a {form}")

    return Product(
        id=product_id,
        drug=table.text("drug"),
        name=table.text("name"),
        route=route,
        form=form,
        dose_unit=dose_unit,
        strengths=tuple(sorted(strengths, key=lambda strength: strength.amount)),
        smallest_measurable=smallest,
        smallest_measurable_unit=measurable_unit,
        smallest_measurable_source=source,
        source=table.text("source"),
    )


def _strength(table: DataTable, unit: str, form: str) -> Strength:
    table.only_keys(_STRENGTH_KEYS)
    if table.text("unit") != unit:
        table.fail("unit", f'expected "{unit}" for a {form}')
    splittable = table.boolean("splittable") if table.has("splittable") else False
    if splittable and form != "tablet":
        table.fail("splittable", "only tablets can be split")
    splittable_source = table.text("splittable_source") if splittable else None
    ndc = table.optional_text("ndc")
    if ndc is not None and not _NDC.fullmatch(ndc):
        table.fail("ndc", "expected an NDC such as 66794-155")
    return Strength(
        amount=table.positive_number("amount"),
        unit=unit,
        splittable=splittable,
        splittable_source=splittable_source,
        ndc=ndc,
        brand=table.optional_text("brand"),
    )


def _check_tablet_step(table: DataTable, strengths: tuple[Strength, ...], step: Decimal) -> None:
    # Every multiple of the step must be buildable from whole tablets plus at most one
    # half: true when the smallest tablet is the step, or is splittable and twice the step,
    # and every strength is a multiple of the smallest tablet.
    smallest = min(strengths, key=lambda strength: strength.amount)
    fits = smallest.amount == step or (smallest.splittable and smallest.amount == 2 * step)
    if not fits:
        table.fail(
            "smallest_measurable",
            "expected the smallest tablet, or half of it when that tablet is splittable",
        )
    for strength in strengths:
        if strength.amount % smallest.amount != 0:
            table.fail("strengths", "every strength must be a multiple of the smallest tablet")
