"""Today says what to take and when the dose changed (issue #17, "the amount")."""

from __future__ import annotations

import time_machine
from django.test import Client
from django.urls import reverse

from planner.models import TaperPlan
from tests.support.plans import at_new_york


def test_today_says_what_to_take_without_the_drug_name_by_default(
    sam_client: Client, plan: TaperPlan
) -> None:
    with time_machine.travel(at_new_york("2027-03-02", "09:00"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert "1 tablet of 10 mg (10 mg)" in body
    assert "½ tablet of 5 mg (2.5 mg)" in body
    assert "baclofen" not in body.lower()
    assert "Your dose changed today" not in body


def test_today_says_the_dose_changed_and_names_the_drug_if_the_patient_chose_detail(
    sam_client: Client, plan: TaperPlan
) -> None:
    plan.patient.calendar_detailed_titles = True
    plan.patient.save()
    with time_machine.travel(at_new_york("2027-03-04", "07:00"), tick=False):
        body = sam_client.get(reverse("patient_today")).content.decode()
    assert "1 tablet of 5 mg (baclofen 5 mg)" in body
    assert "Your dose changed today: check the amount." in body
