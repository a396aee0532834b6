"""The catalogue's medicines as the site names them, and what stopping each class of drug
suddenly risks: one place for the plan form, the clinic pages, the handout and the
abrupt-stop alert e-mail (and, for the patient's pages, the portal and reminders).

Names always come from the catalogue (taper/products), never from a product id. The
withdrawal-risk texts are one per drug class, each with its source (docs/drugs.md,
"What the site says about stopping suddenly").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

import taper
from taper.request import switch_table

# The classes the form groups its products by, in the order it lists them.
CLASS_LABELS: dict[str, Promise] = {
    "baclofen-oral": _("Baclofen"),
    "baclofen-intrathecal": _("Baclofen (intrathecal pump)"),
    "benzodiazepine-oral": _("Benzodiazepines"),
    "z-drug-oral": _("Z-drugs (sleeping tablets)"),
    "gabapentinoid-oral": _("Gabapentinoids"),
}


# The catalogue's drugs in the patient's language (a patient on two tapers reads which
# medicine each dose is). A drug missing here reads as the catalogue names it.
DRUG_NAMES: dict[str, Promise] = {
    "baclofen": pgettext_lazy("medicine", "baclofen"),
    "alprazolam": pgettext_lazy("medicine", "alprazolam"),
    "clonazepam": pgettext_lazy("medicine", "clonazepam"),
    "diazepam": pgettext_lazy("medicine", "diazepam"),
    "lorazepam": pgettext_lazy("medicine", "lorazepam"),
    "zolpidem": pgettext_lazy("medicine", "zolpidem"),
    "gabapentin": pgettext_lazy("medicine", "gabapentin"),
    "pregabalin": pgettext_lazy("medicine", "pregabalin"),
}


def drug_label(drug: str) -> str:
    """ "baclofen" → "baclofen" ("baclofeno" in Spanish): a drug as a sentence names it."""
    name = DRUG_NAMES.get(drug)
    return str(name) if name is not None else drug


def product(product_id: object) -> taper.Product | None:
    if not isinstance(product_id, str):
        return None
    return taper.load_catalogue().product(product_id)


def product_name(product_id: object) -> str:
    """The catalogue's name for a product ("Clonazepam tablets"), never its id; an id
    the catalogue does not know reads as "unknown medicine"."""
    found = product(product_id)
    return found.name if found is not None else str(_("unknown medicine"))


def drug_name(product_id: object) -> str:
    """The drug of a product as a sentence names it ("clonazepam"), from the catalogue,
    in the active language."""
    found = product(product_id)
    return drug_label(found.drug) if found is not None else str(_("this medicine"))


def drug_class(item: taper.Product) -> str:
    """The protocol family a product is tapered with ("benzodiazepine-oral"); baclofen's
    products name none in the catalogue and are told apart by their route."""
    if item.protocol_id:
        return item.protocol_id
    return f"{item.drug}-{'intrathecal' if item.is_intrathecal else 'oral'}"


def product_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every product of the catalogue, grouped by drug class (the form's <optgroup>s)."""
    groups: dict[str, list[tuple[str, str]]] = {key: [] for key in CLASS_LABELS}
    for item in taper.list_products():
        groups.setdefault(drug_class(item), []).append((item.id, item.name))
    return [
        (str(CLASS_LABELS.get(key, key)), choices) for key, choices in groups.items() if choices
    ]


@lru_cache(maxsize=64)
def switch_targets(product_id: str) -> tuple[taper.Product, ...]:
    """The products a plan of this product may switch to before the taper (issue #22:
    benzodiazepines to diazepam), from its protocol's recorded equivalence table."""
    item = product(product_id)
    if item is None or item.is_intrathecal:
        return ()
    catalogue = taper.load_catalogue()
    try:
        protocol = catalogue.protocol_for(item)
    except taper.CatalogueError:
        return ()
    table = switch_table(protocol)
    if table is None or item.drug == table.to_drug or table.entry(item.drug) is None:
        return ()
    target = catalogue.product(table.to_product)
    return (target,) if target is not None else ()


@dataclass(frozen=True)
class WithdrawalRisk:
    """What stopping a drug class suddenly risks: for the clinician (cancel page, alert
    e-mail) and in the patient's words (handout), with the source of the wording."""

    clinician: Promise
    patient_warning: Promise
    warning_signs: tuple[Promise, ...]
    emergency_signs: tuple[Promise, ...]
    source: str


_BREATHING = _("Very slow or shallow breathing, or someone cannot be woken up")
_SEIZURE = _("A seizure (fit)")

WITHDRAWAL_RISK: dict[str, WithdrawalRisk] = {
    "baclofen-oral": WithdrawalRisk(
        clinician=_(
            "Stopping baclofen suddenly can cause hallucinations, seizures, high fever, "
            "altered mental status and rebound spasticity, starting within 24–72 hours. The "
            "label allows an abrupt stop only for a serious adverse reaction."
        ),
        patient_warning=_(
            "Stopping all at once can cause hallucinations, seizures, high fever, confusion "
            "and very stiff muscles."
        ),
        warning_signs=(
            _("Muscle stiffness or spasms much worse than usual"),
            _("Itching, tingling, feeling very anxious or unable to sleep"),
            _("Seeing or hearing things that are not there, or feeling confused"),
        ),
        emergency_signs=(
            _("A seizure (fit), a high fever, or sudden confusion"),
            _("Very stiff muscles with fever"),
            _BREATHING,
        ),
        source=(
            "oral baclofen tablets label, WARNINGS b. Abrupt Drug Withdrawal: "
            "'Hallucinations and seizures have occurred on abrupt withdrawal of baclofen. "
            "Therefore, except for serious adverse reactions, the dose should be reduced "
            "slowly when the drug is discontinued.'; FDA label set_id "
            "e05080ef-53d9-4060-aaa4-86a6935467de, Boxed Warning (high fever, altered mental "
            "status, exaggerated rebound spasticity, muscle rigidity); protocol baclofen-oral "
            "withdrawal_signs"
        ),
    ),
    "baclofen-intrathecal": WithdrawalRisk(
        clinician=_(
            "Stopping intrathecal baclofen suddenly can cause high fever, altered mental "
            "status, exaggerated rebound spasticity and muscle rigidity, starting within "
            "24–72 hours; it can progress to rhabdomyolysis, multiple organ-system failure "
            "and death."
        ),
        patient_warning=_(
            "If the pump runs empty or stops, withdrawal can cause high fever, confusion and "
            "very stiff muscles within hours to days."
        ),
        warning_signs=(
            _("Muscle stiffness or spasms much worse than usual"),
            _("Itching, tingling, feeling very anxious or unable to sleep"),
            _("The pump's alarm sounds"),
        ),
        emergency_signs=(
            _("A seizure (fit), a high fever, or sudden confusion"),
            _("Very stiff muscles with fever"),
            _BREATHING,
        ),
        source=(
            "FDA label set_id e05080ef-53d9-4060-aaa4-86a6935467de, Boxed Warning "
            "(intrathecal): high fever, altered mental status, exaggerated rebound "
            "spasticity, muscle rigidity, that in rare cases has advanced to rhabdomyolysis, "
            "multiple organ-system failure and death; Coffey et al., Arch Phys Med Rehabil "
            "2002 (24 to 72 hours)"
        ),
    ),
    "benzodiazepine-oral": WithdrawalRisk(
        clinician=_(
            "Benzodiazepine boxed warning: abrupt discontinuation or rapid dosage reduction "
            "after continued use may precipitate acute withdrawal reactions, which can be "
            "life-threatening; in seizure disorders, increased seizure frequency and status "
            "epilepticus. Use a gradual taper."
        ),
        patient_warning=_(
            "Stopping all at once, or lowering the dose faster than this plan, can cause "
            "serious withdrawal reactions, including seizures, which can be life-threatening."
        ),
        warning_signs=(
            _("Feeling very anxious, restless or unable to sleep"),
            _("Shaking, sweating or a racing heart"),
            _("Seeing or hearing things that are not there, or feeling confused"),
        ),
        emergency_signs=(_SEIZURE, _BREATHING),
        source=(
            "benzodiazepine class boxed warning (2020), clonazepam tablets DailyMed set_id "
            "b3c9d04a-431f-4cec-a809-847dfb8de736, BOXED WARNING: 'Abrupt discontinuation or "
            "rapid dosage reduction of clonazepam tablets after continued use may precipitate "
            "acute withdrawal reactions, which can be life-threatening. To reduce the risk of "
            "withdrawal reactions, use a gradual taper'; the same box in alprazolam "
            "(openFDA 8ca8e0fc-6c3d-48d4-ad04-708182b45350), lorazepam and diazepam "
            "(DailyMed d7a4b3c7-7021-4764-8c21-49e4bc6f6058) labels; clonazepam DOSAGE AND "
            "ADMINISTRATION (Advagen copy): 'increased seizure frequency, and status "
            "epilepticus'. Warning signs in the patient's words: clinic default"
        ),
    ),
    "gabapentinoid-oral": WithdrawalRisk(
        clinician=_(
            "Gabapentin and pregabalin labels: withdraw gradually over at least one week; "
            "abrupt withdrawal can bring on withdrawal symptoms and, in epilepsy, more "
            "frequent seizures (the gabapentin label's warning 5.5 is titled 'Withdrawal "
            "Precipitated Seizure, Status Epilepticus')."
        ),
        patient_warning=_(
            "Stopping all at once can cause withdrawal symptoms (anxiety, poor sleep, nausea, "
            "sweating, pain) and, in people with epilepsy, more seizures."
        ),
        warning_signs=(
            _("Feeling very anxious or unable to sleep"),
            _("Nausea, sweating, headache or more pain than usual"),
        ),
        emergency_signs=(_SEIZURE, _BREATHING),
        source=(
            "LYRICA label 2.1: 'When discontinuing LYRICA, taper gradually over a minimum of "
            "1 week' (DailyMed set_id 8fb45a78-b2d8-45dd-b844-0de21d1fdde9, highlights); "
            "gabapentin labels 5.5 Withdrawal Precipitated Seizure, Status Epilepticus "
            "(section title in openFDA 691205ba-fa65-4bc9-ba20-7d361382cff9, recent major "
            "changes 4/2025; the section's sentence was searched for on 2026-12-04 and not "
            "found in any US label text: 'Antiepileptic drugs should not be abruptly "
            "discontinued because of the possibility of increasing seizure frequency' is a "
            "paraphrase by droracle.ai 638149; Pfizer's non-US NEURONTIN text, MIMS "
            "Indonesia, Special Precautions: 'abrupt withdrawal of anticonvulsants in "
            "epileptic patients may precipitate status epilepticus'); respiratory "
            "depression: FDA Drug Safety Communication, December 2019. Symptom list: clinic "
            "default wording"
        ),
    ),
    "z-drug-oral": WithdrawalRisk(
        clinician=_(
            "Zolpidem label (5.4 Withdrawal effects): after a rapid dose decrease or abrupt "
            "discontinuation of sedative/hypnotics, signs and symptoms like those of "
            "withdrawal from other CNS depressants have been reported. Expect rebound "
            "insomnia and anxiety for a few nights after each step (clinic default)."
        ),
        patient_warning=_(
            "Stopping all at once can bring back bad sleep for a few nights and cause "
            "withdrawal symptoms such as anxiety and shakiness."
        ),
        warning_signs=(
            _("Several nights in a row with very little sleep"),
            _("Feeling very anxious or shaky"),
        ),
        emergency_signs=(_SEIZURE, _BREATHING),
        source=(
            "Ambien (zolpidem tartrate) label, 5 WARNINGS AND PRECAUTIONS, 5.4 Withdrawal "
            "effects: 'Following the rapid dose decrease or abrupt discontinuation of "
            "sedative/hypnotics, there have been reports of signs and symptoms similar to "
            "those associated with withdrawal from other CNS-depressant drugs [see Drug "
            "Abuse and Dependence (9)].' (an older revision's text as openFDA serves it, read "
            "2026-12-04 in a public openFDA client's test fixture; the current label's "
            "DRUG ABUSE AND DEPENDENCE sentence 'there have been reports of withdrawal signs "
            "and symptoms following the rapid dose decrease or abrupt discontinuation of "
            "zolpidem' is quoted by droracle.ai 887028, not read in set_id "
            "52b15827-8101-4a60-96fc-1f2ca3ea135d); rebound insomnia and anxiety after each "
            "step: protocol z-drug-oral withdrawal_signs (clinic default)"
        ),
    ),
}


def withdrawal_risk(product_id: object) -> WithdrawalRisk:
    """The withdrawal risk of a product's drug class; an unknown product gets the
    strictest wording (the benzodiazepine box's), never none."""
    item = product(product_id)
    if item is None:
        return WITHDRAWAL_RISK["benzodiazepine-oral"]
    return WITHDRAWAL_RISK.get(drug_class(item), WITHDRAWAL_RISK["benzodiazepine-oral"])
