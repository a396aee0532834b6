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
from taper.protocol import Protocol, load_protocols

DATA_DIR = Path(__file__).resolve().parent

# form → (route, unit of a strength, unit of the smallest measurable amount)
_FORMS = {
    "tablet": ("oral", "mg", "mg"),
    # Capsules are never opened or split: the smallest capsule is the dose step.
    "capsule": ("oral", "mg", "mg"),
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
    "protocol",
    "label_set_id",
    "packs",
    "packs_source",
    "storage",
    "storage_source",
    "half_tablet_use_within_days",
    "half_tablet_source",
}
_STRENGTH_KEYS = {
    "amount",
    "unit",
    "splittable",
    "splittable_source",
    "ndc",
    "brand",
    "rxnorm",
    "rxnorm_source",
}
# A value and the key that must give its source, whenever the value is present.
_SOURCED_PRODUCT_KEYS = {
    "packs": "packs_source",
    "storage": "storage_source",
    "half_tablet_use_within_days": "half_tablet_source",
}
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_NDC = re.compile(r"\d{4,5}-\d{3,4}(-\d{1,2})?")
_RXNORM = re.compile(r"\d{3,8}")
_SET_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


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
    # Only where one NDC listing of a single product maps to exactly one code (docs/drugs.md).
    rxnorm: str | None = None
    rxnorm_source: str | None = None


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
    # The protocol id this product is tapered with; None: the protocol of its drug and route.
    protocol_id: str | None = None
    label_set_id: str | None = None
    packs: tuple[str, ...] = ()
    packs_source: str | None = None
    storage: str | None = None
    storage_source: str | None = None
    half_tablet_use_within_days: int | None = None
    half_tablet_source: str | None = None

    @property
    def is_tablet(self) -> bool:
        return self.form == "tablet"

    @property
    def is_capsule(self) -> bool:
        return self.form == "capsule"

    @property
    def is_solid(self) -> bool:
        """Tablets and capsules: doses are built from whole units (and tablet halves)."""
        return self.form in ("tablet", "capsule")

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
    def rxnorm(self) -> str | None:
        """The RxNorm code of the whole product: only a product of a single strength whose
        code the catalogue verified (an oral solution). A code per tablet strength names
        that strength alone, so a product of several strengths has none (never guessed)."""
        if len(self.strengths) == 1:
            return self.strengths[0].rxnorm
        return None

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
        """Every version on disk of the product's protocol, oldest first: the one its
        `protocol` key names, else the one of its drug and route (baclofen)."""
        if product.protocol_id is not None:
            return tuple(
                p for p in self.protocols if p.id == product.protocol_id and p.drug == product.drug
            )
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
            named = f" (its protocol key: {product.protocol_id})" if product.protocol_id else ""
            raise CatalogueError(f"no protocol for {product.drug} ({product.route}){named}")
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
            (protocol for path in protocol_files for protocol in _load_protocol_file(path)),
            key=lambda protocol: (protocol.id, _version_key(protocol.version)),
        )
    )

    seen_ids: set[str] = set()
    for product in products:
        if product.id in seen_ids:
            raise CatalogueError(f"product id {product.id!r} is defined twice")
        seen_ids.add(product.id)
    ids_of: dict[tuple[str, str], str] = {}
    # (One per drug and route: a class protocol's per-drug variants each count once.)
    for protocol in protocols:
        key = (protocol.drug, protocol.route)
        if ids_of.setdefault(key, protocol.id) != protocol.id:
            raise CatalogueError(
                f"{protocol.id}: a second protocol for {protocol.drug} ({protocol.route})"
            )
    catalogue = Catalogue(products=products, protocols=protocols)
    for product in products:
        # Fail at load time, not on the first plan: every version of the product's protocol
        # must be for its route and list its drug.
        catalogue.protocol_for(product)
        for protocol in catalogue.protocol_versions(product):
            if protocol.route != product.route or product.drug not in protocol.drugs:
                raise CatalogueError(
                    f"{product.id}: protocol {protocol.id} version {protocol.version} is for "
                    f"{', '.join(protocol.drugs)} ({protocol.route}), not {product.drug} "
                    f"({product.route})"
                )
    _check_switch_tables(catalogue)
    return catalogue


def _check_switch_tables(catalogue: Catalogue) -> None:
    """A protocol that switches names a table on disk whose target product exists."""
    from taper.equivalence import EquivalenceError, load_equivalence

    for protocol in catalogue.protocols:
        switch = getattr(protocol, "switch_equivalence", None)
        if switch is None:
            continue
        try:
            table = load_equivalence(switch.value)
        except EquivalenceError as error:
            raise CatalogueError(f"{protocol.id} version {protocol.version}: {error}") from error
        if catalogue.product(table.to_product) is None:
            raise CatalogueError(
                f"equivalence table {table.reference}: no product {table.to_product!r}"
            )


def _load_protocol_file(path: Path) -> tuple[Protocol, ...]:
    """protocols/<id>/<version>.toml: the folder and file name must say what the file does.
    A class protocol gives one Protocol per drug it lists."""
    protocols = load_protocols(path)
    protocol = protocols[0]
    if not re.fullmatch(r"\d+(\.\d+)*", protocol.version):
        raise CatalogueError(f"{path}: version {protocol.version!r} is not a number like 2 or 2.1")
    if (path.parent.name, path.stem) != (protocol.id, protocol.version):
        raise CatalogueError(
            f"{path}: holds {protocol.id} version {protocol.version}; "
            f"it belongs in protocols/{protocol.id}/{protocol.version}.toml"
        )
    return protocols


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
        elif form == "capsule":
            _check_capsule_step(table, strengths, smallest)
    elif table.has("smallest_measurable"):
        table.fail("smallest_measurable", f"not used for a {form}")

    for key, source_key in _SOURCED_PRODUCT_KEYS.items():
        if table.has(key) and not table.has(source_key):
            table.fail(source_key, f"missing: every {key} needs its source")
        if table.has(source_key) and not table.has(key):
            table.fail(source_key, f"not used without {key}")
    label_set_id = table.optional_text("label_set_id")
    if label_set_id is not None and not _SET_ID.fullmatch(label_set_id):
        table.fail("label_set_id", "expected an SPL set_id such as ee9ad9ed-6d9f-4ee1-9d7f-...")
    half_days: int | None = None
    if table.has("half_tablet_use_within_days"):
        if form != "tablet" or not any(strength.splittable for strength in strengths):
            table.fail("half_tablet_use_within_days", "only for tablets that can be split")
        half_days = table.positive_int("half_tablet_use_within_days")

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
        protocol_id=table.optional_text("protocol"),
        label_set_id=label_set_id,
        packs=table.text_list("packs") if table.has("packs") else (),
        packs_source=table.optional_text("packs_source"),
        storage=table.optional_text("storage"),
        storage_source=table.optional_text("storage_source"),
        half_tablet_use_within_days=half_days,
        half_tablet_source=table.optional_text("half_tablet_source"),
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
    rxnorm = table.optional_text("rxnorm")
    if rxnorm is not None and not _RXNORM.fullmatch(rxnorm):
        table.fail("rxnorm", "expected an RxNorm code (digits) such as 309843")
    if (rxnorm is None) != (table.optional_text("rxnorm_source") is None):
        table.fail("rxnorm_source", "an RxNorm code and its source go together")
    return Strength(
        amount=table.positive_number("amount"),
        unit=unit,
        splittable=splittable,
        splittable_source=splittable_source,
        ndc=ndc,
        brand=table.optional_text("brand"),
        rxnorm=rxnorm,
        rxnorm_source=table.optional_text("rxnorm_source"),
    )


def _check_tablet_step(table: DataTable, strengths: tuple[Strength, ...], step: Decimal) -> None:
    # The step is the smallest tablet, or half of it when that tablet is splittable. Every
    # multiple of the step must be buildable from whole tablets plus at most one half: it
    # is enough that the multiples up to the smallest tablet are, since adding one smallest
    # tablet to a buildable dose builds the dose one tablet larger (diazepam 2, 5, 10 mg
    # with a 1 mg step: 1 = half of 2, 2 = 2; then every larger whole mg follows).
    smallest = min(strengths, key=lambda strength: strength.amount)
    fits = smallest.amount == step or (smallest.splittable and smallest.amount == 2 * step)
    if not fits:
        table.fail(
            "smallest_measurable",
            "expected the smallest tablet, or half of it when that tablet is splittable",
        )
    _check_buildable(table, strengths, step, smallest.amount, "tablet")


def _check_capsule_step(table: DataTable, strengths: tuple[Strength, ...], step: Decimal) -> None:
    smallest = min(strength.amount for strength in strengths)
    if smallest != step:
        table.fail("smallest_measurable", "expected the smallest capsule (capsules are not split)")
    _check_buildable(table, strengths, step, smallest, "capsule")


def _check_buildable(
    table: DataTable, strengths: tuple[Strength, ...], step: Decimal, smallest: Decimal, form: str
) -> None:
    from taper.rounding import can_build  # rounding imports this module

    shelf = tuple((strength.amount, strength.splittable) for strength in strengths)
    multiple = step
    while multiple <= smallest:
        if not can_build(shelf, multiple):
            table.fail(
                "strengths",
                f"{multiple} mg cannot be built from whole {form}s"
                + (" and at most one half" if form == "tablet" else "")
                + "; every multiple of the dose step must be",
            )
        multiple += step
