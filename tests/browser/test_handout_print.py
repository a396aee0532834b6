"""The patient handout printed to PDF by chromium on A4 and Letter (issue #18): the
patient's name, the medicine, the clinic's phone and one column per dose time, with the
grid inside the page."""

from __future__ import annotations

import io
from typing import Any

import pytest
import time_machine
from pypdf import PdfReader

from planner.models import Patient
from tests.support.browser import log_in
from tests.support.plans import active_plan, at_new_york

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_handout_prints_on_one_width_of_paper_with_what_a_patient_needs(
    page: Any, live_server: Any, alice: Any, patient: Patient, paper: str
) -> None:
    patient.clinic.phone = "020 7946 0000"
    patient.clinic.save()
    plan = active_plan(patient, alice)
    with time_machine.travel(at_new_york("2027-03-02", "12:00"), tick=True):
        log_in(page, live_server)
        page.goto(f"{live_server.url}/clinic/plans/{plan.pk}/handout/")
        page.emulate_media(media="print")
        # The paper's printable width (12 mm margins) at 96 px to the inch.
        width_mm = {"A4": 210, "Letter": 215.9}[paper] - 24
        page.set_viewport_size({"width": int(width_mm / 25.4 * 96), "height": 1000})
        grid = page.locator("table.tickbox")
        assert grid.locator("thead th").count() == 4  # the day, 08:00, 14:00, 20:00
        assert page.evaluate(
            "() => { const t = document.querySelector('table.tickbox');"
            " return t.scrollWidth <= document.documentElement.clientWidth; }"
        )
        pdf = page.pdf(format=paper, print_background=True)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Sam Sample" in text
    assert "baclofen 10 mg tablets" in text
    assert "020 7946 0000" in text
    for time in ("08:00", "14:00", "20:00"):
        assert time in text
    assert "Mon 1 Mar" not in text  # the day before today is left out
    assert "Tue 2 Mar" in text


def test_a_spanish_speaking_patients_handout_prints_in_spanish(
    page: Any, live_server: Any, alice: Any, patient: Patient
) -> None:
    """The clinician's browser asks for English; the paper follows the patient (#22)."""
    from portal.services import language_set

    language_set(patient=patient, language="es")
    plan = active_plan(patient, alice)
    with time_machine.travel(at_new_york("2027-03-02", "12:00"), tick=True):
        log_in(page, live_server)
        page.goto(f"{live_server.url}/clinic/plans/{plan.pk}/handout/")
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", print_background=True)
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages
    )
    assert "Su plan para bajar su medicamento" in text
    assert "comprimidos de baclofeno de 10 mg" in text
    assert "1 comprimido de 10 mg" in text
    assert "Si olvida la dosis de las 08:00" in text
    assert "mar 2 mar" in text
    assert "If you miss" not in text
