"""Issue #22's catalogue and class protocols: benzodiazepines, zolpidem, gabapentinoids."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import taper
from taper.catalogue import DATA_DIR
from taper.protocol import CLINIC_DEFAULT, OralProtocol
from taper.rounding import can_build, dose_units, units_text

D = Decimal

PROTOCOL_OF = {
    "alprazolam-oral-tablet": "benzodiazepine-oral",
    "clonazepam-oral-tablet": "benzodiazepine-oral",
    "clonazepam-oral-odt": "benzodiazepine-oral",
    "diazepam-oral-tablet": "benzodiazepine-oral",
    "diazepam-oral-solution": "benzodiazepine-oral",
    "lorazepam-oral-tablet": "benzodiazepine-oral",
    "gabapentin-oral-capsule": "gabapentinoid-oral",
    "gabapentin-oral-tablet": "gabapentinoid-oral",
    "gabapentin-oral-solution": "gabapentinoid-oral",
    "pregabalin-oral-capsule": "gabapentinoid-oral",
    "pregabalin-oral-solution": "gabapentinoid-oral",
    "zolpidem-oral-tablet": "z-drug-oral",
}
# Only the codes docs/drugs.md verified (one NDC listing of a single product → one code).
VERIFIED_RXNORM = {
    ("diazepam-oral-solution", D(1)): "309843",
    ("lorazepam-oral-tablet", D(1)): "197901",
    ("alprazolam-oral-tablet", D("0.25")): "308047",
    ("gabapentin-oral-capsule", D(300)): "310431",
    ("gabapentin-oral-tablet", D(800)): "310434",
    ("gabapentin-oral-solution", D(50)): "283523",
    ("pregabalin-oral-capsule", D(150)): "483440",
    ("pregabalin-oral-capsule", D(200)): "483446",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    for folder in ("products", "protocols"):
        shutil.copytree(DATA_DIR / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def product(product_id: str) -> taper.Product:
    found = taper.load_catalogue().product(product_id)
    assert found is not None
    return found


def protocol(product_id: str) -> OralProtocol:
    found = taper.load_catalogue().protocol_for(product(product_id))
    assert isinstance(found, OralProtocol)
    return found


def test_it_lists_every_product_of_the_issue_with_its_class_protocol():
    catalogue = taper.load_catalogue()
    listed = {p.id: catalogue.protocol_for(p).id for p in catalogue.products}
    assert {k: v for k, v in listed.items() if not k.startswith("baclofen")} == PROTOCOL_OF
    text = taper.catalogue_to_text()
    assert "gabapentin-oral-capsule" in text
    assert "protocol gabapentinoid-oral version 1" in text


def test_capsules_are_whole_units_never_split():
    capsules = product("gabapentin-oral-capsule")
    assert capsules.is_capsule
    assert capsules.is_solid
    assert not capsules.is_tablet
    assert capsules.dose_quantum_mg == D(100)
    assert not any(s.splittable for s in capsules.strengths)
    assert product("pregabalin-oral-capsule").dose_quantum_mg == D(25)


@pytest.mark.parametrize(
    ("product_id", "step", "upto"),
    [
        ("diazepam-oral-tablet", D(1), D(60)),
        ("gabapentin-oral-tablet", D(300), D(4800)),
        ("gabapentin-oral-capsule", D(100), D(3600)),
        ("pregabalin-oral-capsule", D(25), D(600)),
        ("clonazepam-oral-tablet", D("0.25"), D(8)),
        ("clonazepam-oral-odt", D("0.125"), D(4)),
    ],
)
def test_every_multiple_of_the_dose_step_is_buildable(product_id, step, upto):
    # Diazepam 2, 5, 10 mg and gabapentin 600, 800 mg are not multiples of the smallest.
    found = product(product_id)
    assert found.dose_quantum_mg == step
    shelf = tuple((s.amount, s.splittable) for s in found.strengths)
    amount = step
    while amount <= upto:
        assert can_build(shelf, amount), amount
        amount += step


def test_it_builds_non_multiple_strengths_with_the_fewest_pieces():
    units = dose_units(product("diazepam-oral-tablet"), D(7))
    assert units_text(units) == "1 × 5 mg + 1 × 2 mg"
    units = dose_units(product("gabapentin-oral-tablet"), D(1400))
    assert units_text(units) == "1 × 800 mg + 1 × 600 mg"


def test_rxnorm_codes_are_only_the_verified_ones_each_with_its_source():
    codes = {
        (p.id, s.amount): s.rxnorm
        for p in taper.list_products()
        for s in p.strengths
        if s.rxnorm is not None
    }
    assert codes == VERIFIED_RXNORM
    for p in taper.list_products():
        for s in p.strengths:
            assert (s.rxnorm is None) == (s.rxnorm_source is None)


def test_packs_storage_and_half_tablets_carry_their_sources():
    solution = product("gabapentin-oral-solution")
    assert solution.storage is not None
    assert "2°C to 8°C" in solution.storage
    assert solution.storage_source
    assert "NEURONTIN" in solution.storage_source
    tablets = product("gabapentin-oral-tablet")
    assert tablets.half_tablet_use_within_days == 28
    assert tablets.half_tablet_source
    assert "28 days" in tablets.half_tablet_source
    for p in taper.list_products():
        assert bool(p.packs) == bool(p.packs_source)
        assert (p.storage is None) == (p.storage_source is None)
    # Storage was not verified for the benzodiazepines or zolpidem: left out, not guessed.
    assert product("diazepam-oral-tablet").storage is None
    assert product("zolpidem-oral-tablet").storage is None


def test_a_capsule_step_must_be_the_smallest_capsule(data_dir):
    edit(
        data_dir / "products" / "gabapentinoid-gabapentin.toml",
        "smallest_measurable = 100",
        "smallest_measurable = 50",
    )
    with pytest.raises(taper.CatalogueError, match="expected the smallest capsule"):
        taper.load_catalogue(data_dir)


def test_a_dose_step_that_cannot_be_built_is_refused(data_dir):
    # Without the half of a 2 mg tablet, 1 mg cannot be given.
    path = data_dir / "products" / "benzodiazepine-diazepam.toml"
    text = path.read_text()
    start = text.index("[[products.strengths]]\namount = 2\n")
    end = text.index("[[products.strengths]]\namount = 5\n")
    path.write_text(
        text[:start] + '[[products.strengths]]\namount = 2\nunit = "mg"\n\n' + text[end:]
    )
    with pytest.raises(taper.CatalogueError, match="expected the smallest tablet, or half"):
        taper.load_catalogue(data_dir)


def test_a_product_must_name_a_protocol_that_lists_its_drug(data_dir):
    edit(
        data_dir / "products" / "z-drug-zolpidem.toml",
        'protocol = "z-drug-oral"',
        'protocol = "benzodiazepine-oral"',
    )
    message = "no protocol for zolpidem (oral) (its protocol key: benzodiazepine-oral)"
    with pytest.raises(taper.CatalogueError, match=re.escape(message)):
        taper.load_catalogue(data_dir)


def test_a_sourced_value_without_its_source_is_refused(data_dir):
    path = data_dir / "products" / "gabapentinoid-gabapentin.toml"
    text = path.read_text()
    path.write_text(re.sub(r"\nstorage_source = [^\n]*", "", text, count=1))
    with pytest.raises(taper.CatalogueError, match="storage_source: missing"):
        taper.load_catalogue(data_dir)


def test_a_class_protocol_only_overrides_its_own_drugs(data_dir):
    edit(
        data_dir / "protocols" / "gabapentinoid-oral" / "1.toml",
        "[by_drug.pregabalin.high_dose_daily_mg]",
        "[by_drug.baclofen.high_dose_daily_mg]",
    )
    with pytest.raises(taper.ProtocolError, match="not one of this protocol's drugs"):
        taper.load_catalogue(data_dir)


def test_class_protocols_mark_every_value_as_a_citation_or_exactly_clinic_default():
    for product_id in PROTOCOL_OF:
        found = protocol(product_id)
        settings: list[Any] = [getattr(found, name) for name in found.__dataclass_fields__]
        settings += [getattr(found.risks, name) for name in found.risks.__dataclass_fields__]
        for setting in settings:
            if isinstance(setting, taper.Setting):
                assert setting.source == CLINIC_DEFAULT or (
                    "clinic default" not in setting.source.lower() and len(setting.source) > 10
                )
        for band in found.renal_bands:
            assert "clinic default" not in band.source.lower()


def test_label_facts_and_guidelines_are_cited_not_clinic_defaults():
    benzo = protocol("clonazepam-oral-tablet")
    for cited in (
        benzo.step_shape,
        benzo.window_days,
        benzo.window_max_cut_percent,
        benzo.cns_depressant_critical_with,
        benzo.withdrawal_progression,
    ):
        assert cited is not None
        assert not cited.is_clinic_default
    for default in (benzo.percent_per_step, benzo.step_interval_days, benzo.slower_factor):
        assert default.is_clinic_default
    zolpidem = protocol("zolpidem-oral-tablet")
    assert zolpidem.percent_per_step.value == 25
    assert not zolpidem.percent_per_step.is_clinic_default
    assert zolpidem.max_doses_per_day.value == 1
    assert not zolpidem.max_doses_per_day.is_clinic_default
    gabapentin = protocol("gabapentin-oral-capsule")
    assert gabapentin.hard_floor_days.value == 7
    assert not gabapentin.hard_floor_days.is_clinic_default
    assert [b.max_daily_mg for b in gabapentin.renal_bands] == [3600, 1400, 700, 300]
    assert [b.doses_per_day for b in gabapentin.renal_bands] == [3, 2, 1, 1]
    # The pregabalin kidney table was not verified: no bands rather than guessed ones.
    assert protocol("pregabalin-oral-capsule").renal_bands == ()
    assert protocol("pregabalin-oral-capsule").high_dose_daily_mg.value == 300


def test_docs_drugs_lists_every_encoded_value_of_the_class_protocols():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "drugs.md").read_text()
    encoded = doc[doc.index("## What the engine encodes") :]
    for product_id in PROTOCOL_OF:
        assert f"`{product_id}`" in encoded
        found = protocol(product_id)
        assert f"### `{found.id}` version {found.version}" in encoded
        for name in (*found.__dataclass_fields__, *found.risks.__dataclass_fields__):
            setting = getattr(found, name, None) or getattr(found.risks, name, None)
            if isinstance(setting, taper.Setting):
                assert f"| `{name}`" in encoded, name
