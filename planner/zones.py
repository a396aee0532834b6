"""The time zones a patient's home can be in: real places, with friendly names,
grouped by region.

The list is the IANA time zone database's `zone.tab` (shipped by the tzdata package):
one zone per inhabited place, each with its country. Everything else zoneinfo knows is
left out: `localtime`, `Factory`, `posixrules`, the fixed offsets (`Etc/GMT+5`, whose
sign is the reverse of what it seems), `UTC` itself and the old aliases (`US/Eastern`,
`GB`), none of which is a place a patient lives in. The clinician's patient form, the
patient's settings and the API's patient records offer and accept these and no other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from zoneinfo import available_timezones

# The region of a zone is the first part of its name.
REGIONS = {
    "Africa": "Africa",
    "America": "Americas",
    "Antarctica": "Antarctica",
    "Arctic": "Arctic",
    "Asia": "Asia",
    "Atlantic": "Atlantic Ocean",
    "Australia": "Australia",
    "Europe": "Europe",
    "Indian": "Indian Ocean",
    "Pacific": "Pacific Ocean",
}


@dataclass(frozen=True, slots=True)
class HomeZone:
    name: str  # the IANA name that is stored, e.g. "America/Denver"
    region: str  # "Americas"
    label: str  # "Denver — United States (Mountain, most areas)"


def _table(name: str) -> list[list[str]]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def home_zones() -> dict[str, HomeZone]:
    """Every home zone by IANA name, in the order they are offered."""
    countries = {row[0]: row[1] for row in _table("iso3166.tab")}
    known = available_timezones()
    zones: list[HomeZone] = []
    for row in _table("zone.tab"):
        code, _, name = row[:3]
        comment = row[3] if len(row) > 3 else ""
        area = name.split("/", 1)[0]
        if area not in REGIONS or name not in known:
            continue
        place = name.rsplit("/", 1)[-1].replace("_", " ")
        country = countries.get(code, code)
        detail = comment.replace(" (", ", ").rstrip(")")  # "Spain (mainland)" → "Spain, mainland"
        if detail.startswith(country):
            label = f"{place} — {detail}"
        else:
            label = f"{place} — {country} ({detail})" if detail else f"{place} — {country}"
        zones.append(HomeZone(name=name, region=REGIONS[area], label=label))
    zones.sort(key=lambda zone: (zone.region, zone.label))
    return {zone.name: zone for zone in zones}


def is_home_zone(name: object) -> bool:
    return isinstance(name, str) and name in home_zones()


def zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Django's grouped choices: (region, [(name, label), ...]) for each region."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in home_zones().values():
        groups.setdefault(zone.region, []).append((zone.name, zone.label))
    return list(groups.items())


def zone_label(name: str) -> str:
    """The friendly name of a stored zone (the IANA name if it is not a home zone)."""
    zone = home_zones().get(name)
    return zone.label if zone is not None else name
