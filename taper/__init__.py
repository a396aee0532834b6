"""The clinical taper engine: pure Python, no Django, no clock.

A JSON-like request goes in (`parse_request`), a `TaperPlan` value comes out
(`plan`), and `plan_to_json` / `plan_to_text` show it. Drugs, products and
protocols are data files under taper/products and taper/protocols.
"""

from taper.catalogue import (
    Catalogue,
    CatalogueError,
    Product,
    Strength,
    list_products,
    load_catalogue,
)
from taper.flags import Flag
from taper.intake import parse_request
from taper.kidney import CreatinineClearance
from taper.missed_dose import MissedDoseGuidance
from taper.plan import TaperPlan, plan, refill_interval_days
from taper.protocol import IntrathecalProtocol, OralProtocol, Protocol, ProtocolError, Setting
from taper.pump import PumpSettings, RefillDue, WeanStep
from taper.render import DISCLAIMER, catalogue_to_text, plan_to_json, plan_to_text
from taper.request import (
    CurrentDose,
    Goal,
    InvalidPlanInput,
    Pace,
    Patient,
    PlanRequest,
    Revision,
)
from taper.rounding import LiquidSupply, LiquidVolume, TabletSupply, TabletUnits
from taper.schedule import DoseEvent, ScheduledDose, Step

__all__ = [
    "DISCLAIMER",
    "Catalogue",
    "CatalogueError",
    "CreatinineClearance",
    "CurrentDose",
    "DoseEvent",
    "Flag",
    "Goal",
    "IntrathecalProtocol",
    "InvalidPlanInput",
    "LiquidSupply",
    "LiquidVolume",
    "MissedDoseGuidance",
    "OralProtocol",
    "Pace",
    "Patient",
    "PlanRequest",
    "Product",
    "Protocol",
    "ProtocolError",
    "PumpSettings",
    "RefillDue",
    "Revision",
    "ScheduledDose",
    "Setting",
    "Step",
    "Strength",
    "TabletSupply",
    "TabletUnits",
    "TaperPlan",
    "WeanStep",
    "catalogue_to_text",
    "list_products",
    "load_catalogue",
    "parse_request",
    "plan",
    "plan_to_json",
    "plan_to_text",
    "refill_interval_days",
]
