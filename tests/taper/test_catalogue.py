"""The data files: products and protocols load, malformed files say where, new drugs are data."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

import taper
from taper.catalogue import DATA_DIR
from taper.protocol import CLINIC_DEFAULT, OralProtocol
from tests.support.taper import oral_input

D = Decimal


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the shipped data files to break or extend."""
    for folder in ("products", "protocols"):
        shutil.copytree(DATA_DIR / folder, tmp_path / folder)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_it_lists_the_four_baclofen_products():
    products = {p.id: p for p in taper.list_products()}
    # The drug classes of #22 follow (tests/taper/test_drug_catalogue.py).
    assert list(products)[:4] == [
        "baclofen-oral-tablet",
        "baclofen-oral-solution",
        "baclofen-oral-suspension",
        "baclofen-intrathecal",
    ]
    tablet = products["baclofen-oral-tablet"]
    assert tablet.strength_amounts == (D(5), D(10), D(20))
    assert all(s.splittable for s in tablet.strengths)
    assert tablet.strengths[0].splittable_source == "clinic default (CLINICAL.md rounding rule)"
    assert tablet.dose_quantum_mg == D("2.5")
    assert products["baclofen-oral-solution"].dose_quantum_mg == D("0.5")
    assert products["baclofen-oral-suspension"].dose_quantum_mg == D("2.5")
    intrathecal = products["baclofen-intrathecal"]
    assert intrathecal.strength_amounts == (D(50), D(500), D(1000), D(2000))
    assert [s.ndc for s in intrathecal.strengths] == [None, "66794-155", None, None]


def test_it_describes_the_catalogue_for_the_command_line():
    text = taper.catalogue_to_text()
    assert "baclofen-oral-tablet" in text
    assert "NDC 66794-155" in text


def test_it_gives_every_protocol_value_a_citation_or_exactly_clinic_default():
    for protocol in taper.load_catalogue().protocols:
        settings = [getattr(protocol, name) for name in protocol.__dataclass_fields__]
        settings += [getattr(protocol.risks, name) for name in protocol.risks.__dataclass_fields__]
        for setting in settings:
            if isinstance(setting, taper.Setting):
                assert setting.source == CLINIC_DEFAULT or (
                    "clinic default" not in setting.source.lower() and len(setting.source) > 10
                )


def test_it_keeps_label_facts_as_citations_not_clinic_defaults():
    tablets = taper.load_catalogue().product("baclofen-oral-tablet")
    assert tablets is not None
    protocol = taper.load_catalogue().protocol_for(tablets)
    assert isinstance(protocol, OralProtocol)
    for label_fact in (
        protocol.max_daily_dose_mg,
        protocol.hard_floor_days,
        protocol.high_dose_daily_mg,
        protocol.long_term_months,
        protocol.pediatric_max_mg_per_kg_day,
        protocol.risks.elderly_age_years,
        protocol.risks.pediatric_age_years,
        protocol.risks.renal_severe_below_ml_min,
    ):
        assert not label_fact.is_clinic_default
    for clinic_default in (protocol.step_interval_days, protocol.catch_up_fraction):
        assert clinic_default.is_clinic_default


def test_it_records_the_protocol_id_and_version_on_every_plan():
    plan = taper.plan(taper.parse_request(oral_input()))
    assert (plan.protocol_id, plan.protocol_version) == ("baclofen-oral", "2")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "[step_interval_days]\nvalue = 3",
            '[step_interval_days]\nvalue = "three"',
            "baclofen-oral/2.toml: step_interval_days.value: expected a positive integer",
        ),
        (
            "[step_interval_days]\nvalue = 3",
            "[step_interval_days]\nvalue = 0",
            "baclofen-oral/2.toml: step_interval_days.value: expected a positive integer",
        ),
        (
            "[step_interval_days]\nvalue = 3\n",
            "[step_interval_days]\n",
            "baclofen-oral/2.toml: step_interval_days.value: missing",
        ),
        (
            '[catch_up_fraction]\nvalue = 0.5\nsource = "clinic default"',
            "[catch_up_fraction]\nvalue = 0.5",
            "baclofen-oral/2.toml: catch_up_fraction.source: missing",
        ),
        (
            'source = "clinic default"\nnote = "the upper bound',
            'source = "clinic default, roughly"\nnote = "the upper bound',
            "baclofen-oral/2.toml: standard_length_days.source: expected a citation or exactly",
        ),
        (
            '[step_shape]\nvalue = "linear"',
            '[step_shape]\nvalue = "zigzag"',
            "baclofen-oral/2.toml: step_shape.value: expected",
        ),
        (
            "[max_daily_dose_mg]",
            "[max_dialy_dose_mg]",
            "baclofen-oral/2.toml: max_dialy_dose_mg: unknown key",
        ),
        (
            'version = "2"',
            "version = 1",
            "baclofen-oral/2.toml: version: expected a non-empty string",
        ),
        ("[hard_floor_days]", "[hard_floor_days", "baclofen-oral/2.toml: not valid TOML"),
    ],
)
def test_it_names_the_file_and_key_of_a_malformed_protocol(data_dir, old, new, message):
    edit(data_dir / "protocols" / "baclofen-oral" / "2.toml", old, new)
    with pytest.raises(taper.ProtocolError, match=re.escape(message)):
        taper.load_catalogue(data_dir)


def test_it_names_the_file_and_key_of_a_missing_protocol_setting(data_dir):
    path = data_dir / "protocols" / "baclofen-intrathecal" / "1.toml"
    text = path.read_text()
    start = text.index("[refill_reminder_days_before]")
    end = text.index("[implausible_daily_dose_mcg]")
    path.write_text(text[:start] + text[end:])
    message = "baclofen-intrathecal/1.toml: refill_reminder_days_before: missing"
    with pytest.raises(taper.ProtocolError, match=re.escape(message)):
        taper.load_catalogue(data_dir)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'amount = 5\nunit = "mg"',
            'amount = -5\nunit = "mg"',
            "baclofen.toml: products.0.strengths.0.amount: expected a positive number",
        ),
        (
            'form = "tablet"',
            'form = "patch"',
            "baclofen.toml: products.0.form: expected one of",
        ),
        (
            "smallest_measurable = 2.5",
            "smallest_measurable = 1",
            "baclofen.toml: products.0.smallest_measurable: expected the smallest tablet",
        ),
        (
            'ndc = "66794-155"',
            'ndc = "call the pharmacy"',
            "baclofen.toml: products.3.strengths.1.ndc: expected an NDC",
        ),
        (
            'id = "baclofen-oral-solution"',
            'id = "baclofen-oral-tablet"',
            "product id 'baclofen-oral-tablet' is defined twice",
        ),
    ],
)
def test_it_names_the_file_and_key_of_a_malformed_product(data_dir, old, new, message):
    edit(data_dir / "products" / "baclofen.toml", old, new)
    with pytest.raises(taper.CatalogueError, match=re.escape(message)):
        taper.load_catalogue(data_dir)


def test_it_refuses_a_product_without_a_protocol(data_dir):
    for version in (data_dir / "protocols" / "baclofen-intrathecal").glob("*.toml"):
        version.unlink()
    with pytest.raises(taper.CatalogueError, match="no protocol for baclofen"):
        taper.load_catalogue(data_dir)


def test_it_loads_each_data_directory_once():
    assert taper.load_catalogue() is taper.load_catalogue()


FAKE_PRODUCTS = """
[[products]]
id = "examplazepam-oral-tablet"
drug = "examplazepam"
name = "Examplazepam tablets"
route = "oral"
form = "tablet"
dose_unit = "mg"
smallest_measurable = 1
smallest_measurable_unit = "mg"
smallest_measurable_source = "clinic default"
source = "made-up test drug"

[[products.strengths]]
amount = 2
unit = "mg"
splittable = true
splittable_source = "made-up label: 2 mg tablets are scored"

[[products.strengths]]
amount = 8
unit = "mg"
"""


def test_it_plans_a_new_drug_of_the_same_shape_from_data_files_alone(data_dir):
    (data_dir / "products" / "examplazepam.toml").write_text(FAKE_PRODUCTS)
    protocol = (data_dir / "protocols" / "baclofen-oral" / "2.toml").read_text()
    protocol = protocol.replace('id = "baclofen-oral"', 'id = "examplazepam-oral"')
    protocol = protocol.replace('drug = "baclofen"', 'drug = "examplazepam"')
    protocol = protocol.replace(
        "[standard_length_days]\nvalue = 14", "[standard_length_days]\nvalue = 10"
    )
    (data_dir / "protocols" / "examplazepam-oral").mkdir()
    (data_dir / "protocols" / "examplazepam-oral" / "1.toml").write_text(
        protocol.replace('version = "2"', 'version = "1"')
    )

    catalogue = taper.load_catalogue(data_dir)
    request = taper.parse_request(
        oral_input(
            product="examplazepam-oral-tablet",
            doses=[{"time": "08:00", "amount_mg": 8}, {"time": "20:00", "amount_mg": 9}],
        ),
        catalogue=catalogue,
    )
    plan = taper.plan(request)
    assert plan.protocol_id == "examplazepam-oral"
    assert plan.duration_days == 10
    # 17 mg = 17 units of 1 mg (half a 2 mg tablet) in 4 cuts, the larger first:
    # 5, 4, 4, 4 → 12, 8, 4.
    assert [step.daily_total_mg for step in plan.steps] == [12, 8, 4]
    assert [dose.units_text for dose in plan.steps[0].doses] == [
        "1½ × 2 mg",
        "1 × 8 mg + ½ × 2 mg",
    ]
    # The baclofen catalogue does not know the new drug.
    with pytest.raises(taper.InvalidPlanInput):
        taper.parse_request(oral_input(product="examplazepam-oral-tablet"))


def _add_protocol_version(data_dir: Path, version: str, old: str, new: str) -> None:
    folder = data_dir / "protocols" / "baclofen-oral"
    text = (folder / "2.toml").read_text().replace('version = "2"', f'version = "{version}"')
    assert old in text
    (folder / f"{version}.toml").write_text(text.replace(old, new, 1))


def test_a_new_protocol_version_serves_new_plans_and_the_old_one_stays_loadable(data_dir):
    _add_protocol_version(
        data_dir, "3", "[standard_length_days]\nvalue = 14", "[standard_length_days]\nvalue = 21"
    )
    catalogue = taper.load_catalogue(data_dir)
    product = catalogue.product("baclofen-oral-tablet")
    assert product is not None
    assert [p.version for p in catalogue.protocol_versions(product)] == ["2", "3"]

    newest = taper.plan(taper.parse_request(oral_input(), catalogue=catalogue))
    pinned = taper.plan(
        taper.parse_request({**oral_input(), "protocol_version": "2"}, catalogue=catalogue)
    )
    assert (newest.protocol_version, newest.duration_days) == ("3", 21)
    assert (pinned.protocol_version, pinned.duration_days) == ("2", 14)


def test_versions_sort_as_numbers_not_as_text(data_dir):
    _add_protocol_version(data_dir, "10", 'title = "', 'title = "Ten: ')
    catalogue = taper.load_catalogue(data_dir)
    product = catalogue.product("baclofen-oral-tablet")
    assert product is not None
    assert catalogue.protocol_for(product).version == "10"


def test_an_unknown_protocol_version_is_refused_naming_the_field():
    with pytest.raises(taper.InvalidPlanInput) as refusal:
        taper.parse_request({**oral_input(), "protocol_version": "99"})
    assert "has no version '99'" in refusal.value.errors["protocol_version"][0]
    with pytest.raises(taper.InvalidPlanInput) as refusal:
        taper.parse_request({**oral_input(), "protocol_version": 2})
    assert "protocol_version" in refusal.value.errors


def test_a_protocol_file_must_sit_at_its_id_and_version(data_dir):
    folder = data_dir / "protocols" / "baclofen-oral"
    (folder / "2.toml").rename(folder / "7.toml")
    where = re.escape("belongs in protocols/baclofen-oral/2.toml")
    with pytest.raises(taper.CatalogueError, match=where):
        taper.load_catalogue(data_dir)
