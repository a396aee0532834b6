"""Clinician and reviewer pages a clinic uses on Monday (issue #18): what was broken or
misleading, each checked as the clinician or reviewer would notice it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from planner import services
from planner.models import Patient, TaperPlan
from planner.roles import Role
from tests.support.factories import make_staff
from tests.support.plans import engine_input, plan_post


@pytest.fixture
def logged_in(client: Client, alice: Any) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def bob(django_user_model: Any, clinic: Any) -> Any:
    """A reviewer of the first clinic (not a clinician)."""
    return make_staff(django_user_model, "bob", clinic, Role.REVIEWER)


@pytest.fixture
def dana(django_user_model: Any, clinic: Any) -> Any:
    """A clinician who is also a reviewer."""
    user = make_staff(django_user_model, "dana", clinic, Role.CLINICIAN)
    user.groups.add(Group.objects.get_or_create(name=Role.REVIEWER.value)[0])
    return user


def four_dose_plan(patient: Patient, by: Any) -> TaperPlan:
    doses = [
        {"time": "08:00", "amount_mg": 10},
        {"time": "12:00", "amount_mg": 10},
        {"time": "16:00", "amount_mg": 10},
        {"time": "20:00", "amount_mg": 10},
    ]
    return services.plan_create(
        patient=patient, by=by, engine_input=engine_input(patient, doses=doses)
    )


# --- the new-plan form: nothing copied silently -----------------------------------------


def test_the_new_plan_form_starts_empty_even_when_the_patient_has_plans(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    plan = four_dose_plan(patient, alice)
    response = logged_in.get(reverse("plan_new", args=[patient.pk]))
    form = response.context["form"]
    assert form["dose_amount_1"].value() is None
    assert form["product"].value() is None
    assert response.context["source"] is None
    body = response.content.decode()
    assert "The form starts empty" in body
    assert f"?from_plan={plan.pk}\">Start from plan {plan.pk}</a>" in body


def test_starting_from_plan_n_copies_it_and_says_so(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    plan = four_dose_plan(patient, alice)
    response = logged_in.get(reverse("plan_new", args=[patient.pk]) + f"?from_plan={plan.pk}")
    form = response.context["form"]
    assert str(form["dose_amount_4"].value()) == "10"
    assert form["source_plan"].value() == plan.pk
    assert f"Copied from plan {plan.pk}" in response.content.decode()


def test_another_clinics_plan_cannot_be_a_starting_point(
    logged_in: Client, charlie: Any, other_clinic: Any, patient: Patient
) -> None:
    from tests.support.factories import PatientFactory

    theirs = PatientFactory.create(clinic=other_clinic)
    plan = four_dose_plan(theirs, charlie)
    response = logged_in.get(reverse("plan_new", args=[patient.pk]) + f"?from_plan={plan.pk}")
    assert response.status_code == 404


def test_saving_an_untouched_copy_is_refused_and_makes_no_plan(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]),
        plan_post(submission_key="fresh-key", source_plan=str(plan.pk)),
    )
    assert response.status_code == 200
    assert TaperPlan.objects.count() == 1
    errors = response.context["form"].non_field_errors()
    assert any(f"Nothing differs from plan {plan.pk}" in e for e in errors)
    # A preview of the same values still draws the schedule.
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]), plan_post(submission_key="k-2", preview="1")
    )
    assert response.context["preview"] is not None


def test_a_form_sent_twice_still_opens_the_plan_it_made(
    logged_in: Client, patient: Patient
) -> None:
    url = reverse("plan_new", args=[patient.pk])
    first = logged_in.post(url, plan_post(submission_key="same"))
    second = logged_in.post(url, plan_post(submission_key="same"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert TaperPlan.objects.count() == 1


def test_a_dose_row_the_clinician_removes_or_empties_is_never_kept(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    four_dose_plan(patient, alice)
    # Three doses typed over the copied four; the fourth row ticked "remove".
    data = plan_post(
        submission_key="k-3",
        dose_time_4="22:00", dose_amount_4="10", dose_remove_4="on",
    )
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), data)
    assert response.status_code == 302
    plan = TaperPlan.objects.latest("id")
    times = [d["time"] for d in plan.current_revision.engine_input["doses"]]
    assert times == ["08:00", "14:00", "20:00"]
    # A row emptied of its time and amount is gone too, even with a role left in it.
    data = plan_post(submission_key="k-4", dose_role_4="bedtime", dose_time_3=None,
                     dose_amount_3=None, dose_amount_2="5")
    response = logged_in.post(reverse("plan_new", args=[patient.pk]), data)
    assert response.status_code == 302
    plan = TaperPlan.objects.latest("id")
    assert len(plan.current_revision.engine_input["doses"]) == 2


# --- missed-dose advice per step ---------------------------------------------------------


def test_each_step_shows_its_own_missed_dose_advice_on_plan_review_and_handout(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    patient.creatinine_clearance_ml_min = 25  # critical: goes to the review queue
    patient.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    steps = plan.current_revision.engine_output["steps"]
    last = steps[-1]
    assert [d["time"] for d in last["doses"]] == ["20:00"]  # the midday dose went first
    client.force_login(alice)
    pages = [reverse("plan", args=[plan.pk]), reverse("plan_handout", args=[plan.pk])]
    bodies = [client.get(url).content.decode() for url in pages]
    client.force_login(bob)
    bodies.append(client.get(reverse("plan_review", args=[plan.pk])).content.decode())
    for body in bodies:
        for step in steps:
            for rule in step["missed_dose"]:
                assert rule["text"] in body
        # The 20:00-only steps' advice names no 14:00 dose; only step 1 offers one.
        assert body.count("If you miss the 14:00 dose") == 1
        assert "the last day of the plan" in body


# --- review wording, reviewer links, one's own plan ---------------------------------------


def flagged(patient: Patient, by: Any) -> TaperPlan:
    patient.creatinine_clearance_ml_min = 25  # RENAL_SEVERE: critical, needs review
    patient.save()
    plan = services.plan_create(patient=patient, by=by, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=by)
    return plan


def test_an_approved_or_running_plan_no_longer_says_it_needs_review(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    plan = flagged(patient, alice)
    client.force_login(alice)
    body = client.get(reverse("plan", args=[plan.pk])).content.decode()
    assert "Waiting for a reviewer" in body
    assert "Needs review before it can start" not in body
    services.review_decide(plan=plan, by=bob, approve=True, comment="ok")
    for step in ("approved", "active"):
        if step == "active":
            services.plan_activate(plan=plan, by=alice)
        body = client.get(reverse("plan", args=[plan.pk])).content.decode()
        assert "Needs review before it can start" not in body, step
        assert "needs a reviewer before the plan can start" not in body, step
        assert "Reviewed: approved by bob" in body, step


def test_a_reviewer_sees_no_link_that_ends_on_a_refusal(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    client.force_login(bob)
    pages = {
        reverse("plan", args=[plan.pk]): [
            reverse(name, args=[plan.pk]) for name in
            ("plan_cancel", "plan_activate", "plan_submit", "plan_edit", "plan_revise")
        ],
        reverse("patient", args=[patient.pk]): [
            reverse(name, args=[patient.pk]) for name in
            ("patient_edit", "patient_calendar", "plan_new", "patient_invite")
        ],
        reverse("dashboard"): [reverse("patient_new")],
        reverse("patients"): [reverse("patient_new")],
    }
    for page, refused in pages.items():
        body = client.get(page).content.decode()
        for url in refused:
            assert f'"{url}' not in body, (page, url)
            assert client.get(url).status_code in (403, 405), url
    # Typed by hand, a refused page says why, in the site's own page.
    response = client.get(reverse("plan_new", args=[patient.pk]))
    assert response.status_code == 403
    assert "This page is not for your role" in response.content.decode()
    # A clinician still sees them.
    client.force_login(alice)
    assert reverse("plan_cancel", args=[plan.pk]) in client.get(
        reverse("plan", args=[plan.pk])
    ).content.decode()


def test_approve_and_reject_are_disabled_on_ones_own_plan(
    client: Client, dana: Any, bob: Any, patient: Patient
) -> None:
    plan = flagged(patient, dana)
    client.force_login(dana)
    body = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert 'value="approve" disabled' in body
    assert 'value="reject" class="danger" disabled' in body
    client.force_login(bob)
    body = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    assert "disabled" not in body


# --- words on the pages -------------------------------------------------------------------


def test_an_alert_says_what_happened_once(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    from django.utils import timezone

    from reminders.models import AbruptStopAlert, AlertReason

    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=timezone.now(),
        raised_at=timezone.now(), detail="Two doses in a row were not taken.",
    )
    AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.SEVERE_SYMPTOMS, since=timezone.now(),
        raised_at=timezone.now(), detail="Check-in reports: seizure.",
    )
    body = logged_in.get(reverse("dashboard")).content.decode()
    assert "Two doses in a row missed." in body
    assert "were not taken" not in body
    assert "Severe withdrawal symptoms reported: Check-in reports: seizure." in body


def test_a_one_step_chart_says_one_step() -> None:
    from planner.chart import dose_chart

    chart = dose_chart({
        "start_date": "2027-03-01", "end_date": "2027-03-07", "duration_days": 7,
        "current_daily_mg": 10, "final_daily_mg": 0,
        "steps": [{"start_date": "2027-03-01", "end_date": "2027-03-07", "daily_total_mg": 5}],
    })
    assert chart is not None
    assert chart.description.endswith("in 1 step.")


def test_the_high_dose_flag_names_the_dose_and_the_threshold_once() -> None:
    import taper

    request = taper.parse_request({
        "product": "baclofen-oral-tablet", "start_date": "2027-03-01",
        "timezone": "America/New_York", "goal": {"type": "discontinue"},
        "doses": [{"time": "08:00", "amount_mg": 30}, {"time": "20:00", "amount_mg": 30}],
        "patient": {"age_years": 40, "sex": "male", "months_on_therapy": 2},
    })
    flag = next(f for f in taper.plan(request).flags if f.code == "HIGH_DOSE")
    assert flag.message.startswith(
        "High daily dose: 60 mg a day (the protocol's threshold is 60 mg)"
    )


def test_the_patient_page_names_the_product_and_writes_plain_numbers(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    doses = [{"time": "08:00", "amount_mg": 20}, {"time": "20:00", "amount_mg": 2.5}]
    services.plan_create(patient=patient, by=alice,
                         engine_input=engine_input(patient, doses=doses))
    body = logged_in.get(reverse("patient", args=[patient.pk])).content.decode()
    assert "Baclofen tablets, 3 months on therapy: 08:00 20 mg, 20:00 2.5 mg" in body
    assert "baclofen-oral-tablet" not in body
    assert "20.00" not in body


def test_the_cns_depressant_choices_sit_under_their_label(logged_in: Client) -> None:
    body = logged_in.get(reverse("patient_new")).content.decode()
    legend = body.index("<legend>Other CNS depressants</legend>")
    assert legend < body.index('value="opioid"')


# --- numbers read one way only -----------------------------------------------------------


def test_a_decimal_comma_in_a_dose_is_refused_naming_the_field_never_a_tenfold_dose(
    logged_in: Client, patient: Patient
) -> None:
    for value in ("2,5", "1,000"):
        response = logged_in.post(
            reverse("plan_new", args=[patient.pk]), plan_post(dose_amount_2=value)
        )
        assert response.status_code == 200
        errors = response.context["form"].errors["dose_amount_2"]
        assert errors == [
            "Dose 2 amount (mg): write decimals with a point, as in 2.5. A comma cannot be "
            "read safely (2,5 or 2,500?), so nothing was saved."
        ]
        assert TaperPlan.objects.count() == 0
    # The preview says so too, once.
    response = logged_in.post(
        reverse("plan_preview", args=[patient.pk]), plan_post(dose_amount_2="2,5")
    )
    assert response.content.decode().count("Dose 2 amount (mg): write decimals") == 1
    # A point is read as the decimal it is.
    response = logged_in.post(
        reverse("plan_new", args=[patient.pk]), plan_post(dose_amount_2="2.5")
    )
    assert response.status_code == 302
    doses = TaperPlan.objects.get().current_revision.engine_input["doses"]
    assert doses[1]["amount_mg"] == 2.5


def test_letters_in_a_weight_give_an_error_on_the_weight_not_an_empty_weight(
    logged_in: Client, patient: Patient
) -> None:
    data = {
        "given_name": "Sam", "family_name": "Sample", "date_of_birth": "1980-01-02",
        "sex": "male", "home_timezone": "America/New_York", "pregnancy_trimester": "0",
    }
    for typed, message in (
        ("seventy", "Weight (kg): enter a number in figures, such as 2.5."),
        ("70,5", "Weight (kg): write decimals with a point"),
    ):
        response = logged_in.post(
            reverse("patient_edit", args=[patient.pk]), {**data, "weight_kg": typed}
        )
        assert response.status_code == 200
        assert response.context["form"].errors["weight_kg"][0].startswith(message)
    patient.refresh_from_db()
    assert patient.weight_kg is None
    # The field is text with a decimal keyboard: the browser sends what was typed.
    body = logged_in.get(reverse("patient_edit", args=[patient.pk])).content.decode()
    assert 'name="weight_kg" inputmode="decimal"' in body or (
        'inputmode="decimal"' in body and 'type="number" name="weight_kg"' not in body
    )


# --- times in the clinic's zone ----------------------------------------------------------


def test_staff_pages_show_times_in_the_clinics_zone_not_utc(
    logged_in: Client, alice: Any, clinic: Any, patient: Patient
) -> None:
    from django.utils import timezone

    from reminders.models import AbruptStopAlert, AlertReason

    clinic.time_zone = "America/Chicago"
    clinic.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    AbruptStopAlert.objects.create(
        plan=plan, reason=AlertReason.CONSECUTIVE_MISSED, since=timezone.now(),
        raised_at=timezone.now(),
    )
    # NOW is 09:00 UTC on 20 February 2027: 03:00 in Chicago.
    body = logged_in.get(reverse("dashboard")).content.decode()
    assert "2027-02-20 03:00 CST" in body
    assert "09:00 UTC" not in body
    assert "2027-02-20 09:00" not in body
    body = logged_in.get(reverse("plan", args=[plan.pk])).content.decode()
    assert "2027-02-20 03:00 CST by alice" in body


def test_a_clinic_time_zone_must_be_a_place(clinic: Any) -> None:
    from django.core.exceptions import ValidationError

    clinic.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        clinic.full_clean()
    clinic.time_zone = "Europe/London"
    clinic.full_clean()


# --- review parity and the reviewers' notice ----------------------------------------------


def test_the_review_page_shows_what_the_clinicians_page_shows(
    client: Client, alice: Any, bob: Any, patient: Patient
) -> None:
    import datetime as dt

    older = services.plan_create(
        patient=patient, by=alice,
        engine_input=engine_input(patient, start_date=(dt.date(2027, 3, 2)).isoformat()),
    )
    patient.weight_kg = 70
    patient.height_cm = 175
    patient.serum_creatinine_mg_dl = "3.5"  # Cockcroft–Gault: CrCl under 30, critical
    patient.save()
    patient.refresh_from_db()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    crcl = plan.current_revision.engine_output["creatinine_clearance"]
    client.force_login(bob)
    review = client.get(reverse("plan_review", args=[plan.pk])).content.decode()
    client.force_login(alice)
    page = client.get(reverse("plan", args=[plan.pk])).content.decode()
    for body in (review, page):
        assert "Day-by-day schedule" in body
        assert "Pharmacy order" in body
        assert "Baclofen 10 mg tablets. Dispense " in body
        assert "(exact quantity: the catalogue lists no pack size)" in body
        assert "Regimen as entered" in body
        assert "08:00 10 mg, 14:00 10 mg, 20:00 10 mg" in body
        assert "70 kg" in body
        assert "serum creatinine 3.5 mg/dL" in body
        assert f"{crcl['value_ml_min']} mL/min (Cockcroft–Gault" in body
        assert f'href="/clinic/plans/{older.pk}/">Plan {older.pk}</a>: draft' in body


def test_reviewers_are_told_when_a_plan_enters_their_queue(
    alice: Any, bob: Any, dana: Any, patient: Patient
) -> None:
    from reminders.models import Notice

    patient.creatinine_clearance_ml_min = 25
    patient.save()
    plan = services.plan_create(patient=patient, by=dana, engine_input=engine_input(patient))
    assert Notice.objects.count() == 0
    services.plan_submit(plan=plan, by=dana)
    notices = Notice.objects.all()
    # Bob, the other reviewer; not dana, who wrote it; not alice, who reviews nothing.
    assert [n.user for n in notices] == [bob]
    assert notices[0].subject == f"Plan {plan.pk} waits for your review"
    assert f"/clinic/plans/{plan.pk}/review/" in notices[0].body
    assert "Sample" not in notices[0].body


def test_reviewers_are_told_when_a_revision_waits_for_them(
    alice: Any, bob: Any, patient: Patient
) -> None:
    from planner.models import RevisionKind
    from reminders.models import Notice

    patient.clinic.require_review_for_all_plans = True
    patient.clinic.save()
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    services.plan_submit(plan=plan, by=alice)
    services.review_decide(plan=plan, by=bob, approve=True, comment="")
    services.plan_activate(plan=plan, by=alice)
    Notice.objects.all().delete()
    services.plan_revise(plan=plan, by=alice, kind=RevisionKind.SLOW_DOWN,
                         from_date=plan.current_revision.start_date)
    notice = Notice.objects.get(user=bob)
    assert notice.subject == f"Revision 2 of plan {plan.pk} waits for your review"


# --- where the patient is today ----------------------------------------------------------


def test_a_running_plan_shows_today_the_current_step_the_days_so_far_and_the_next_change(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    import time_machine

    from reminders.models import Dose, DoseStatus
    from tests.support.plans import active_plan, at_new_york

    plan = active_plan(patient, alice)
    # Steps: 1 on 1–3 March, 2 on 4–6 March (15 mg), 3 from 7 March (10 mg).
    for day, time, status in [
        ("2027-03-01", "08:00", DoseStatus.TAKEN), ("2027-03-01", "14:00", DoseStatus.TAKEN),
        ("2027-03-01", "20:00", DoseStatus.MISSED), ("2027-03-02", "08:00", DoseStatus.SKIPPED),
    ]:
        Dose.objects.filter(plan=plan, local_date=day, local_time=time).update(status=status)
    with time_machine.travel(at_new_york("2027-03-05", "12:00"), tick=False):
        logged_in.force_login(alice)  # staff sessions end after 30 idle minutes
        response = logged_in.get(reverse("plan", args=[plan.pk]))
    body = response.content.decode()
    on_plan = response.context["on_plan"]
    assert on_plan["current_step"] == 2
    assert '<tr class="current-step" aria-current="step">\n      <td>2 (today)</td>' in body
    assert "Next change: <strong>Sun 7 Mar 2027</strong>, step 3: 10 mg a day." in body
    days = {d["date"].isoformat(): d for d in on_plan["days_so_far"]}
    assert (days["2027-03-01"]["taken"], days["2027-03-01"]["missed"]) == (2, 1)
    assert days["2027-03-02"]["skipped"] == 1
    assert "2027-03-06" not in days  # only days so far
    assert 'class="today"' in body
    assert ">Today</text>" in body


def test_a_plan_not_running_has_no_today(logged_in: Client, alice: Any, patient: Patient) -> None:
    plan = services.plan_create(patient=patient, by=alice, engine_input=engine_input(patient))
    response = logged_in.get(reverse("plan", args=[plan.pk]))
    assert response.context["on_plan"] is None
    assert ">Today</text>" not in response.content.decode()


# --- the handout ---------------------------------------------------------------------------


def test_the_handout_names_patient_medicine_prescriber_phone_and_ticks_from_today(
    logged_in: Client, alice: Any, patient: Patient
) -> None:
    import time_machine

    from tests.support.plans import active_plan, at_new_york

    alice.first_name, alice.last_name = "Alice", "Ng"
    alice.save()
    patient.clinic.phone = "020 7946 0000"
    patient.clinic.save()
    plan = active_plan(patient, alice)
    with time_machine.travel(at_new_york("2027-03-05", "12:00"), tick=False):
        logged_in.force_login(alice)
        response = logged_in.get(reverse("plan_handout", args=[plan.pk]))
    body = response.content.decode()
    assert "Sam Sample" in body
    assert "baclofen 10 mg tablets" in body
    assert "Alice Ng, North Demo Clinic" in body
    assert '<a href="tel:02079460000">020 7946 0000</a>' in body
    assert "Printed</dt><dd>5 March 2027" in body
    context = response.context
    assert [c["time"] for c in context["grid_times"]] == ["08:00", "14:00", "20:00"]
    assert context["grid"][0]["date"].isoformat() == "2027-03-05"  # today on, not 1 March
    assert context["past_days_left_out"] == 4
    assert "Mon 1 Mar" not in body
    # Step 2 has no 14:00 dose: that cell says so.
    assert context["grid"][0]["cells"][1] is None
    assert body.count("<th scope=\"col\">") == 4  # the day and one column per dose time
    # What the pharmacy fills from today (5 March) on, with prescription wording.
    pharmacy = context["pharmacy"]
    assert pharmacy.from_date.isoformat() == "2027-03-05"
    assert "Your medicine from the pharmacy" in body
    for line in pharmacy.lines:
        assert line.wording in body
        assert "Sig: take as the attached taper schedule directs, 2027-03-05 to" in line.wording
    with time_machine.travel(at_new_york("2027-03-05", "12:00"), tick=False):
        logged_in.force_login(alice)
        page = logged_in.get(reverse("plan", args=[plan.pk]))
    assert [line.wording for line in page.context["pharmacy"].lines] == [
        line.wording for line in pharmacy.lines
    ]
    assert "Prescription wording" in page.content.decode()


def test_the_refusal_page_is_translated_for_a_patient_who_reads_spanish(
    client: Client, django_user_model: Any, patient: Patient
) -> None:
    user = django_user_model.objects.create_user(username="pat", password="pw-for-tests-1")
    user.groups.add(Group.objects.get_or_create(name=Role.PATIENT.value)[0])
    client.force_login(user)
    response = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 403
    assert "Esta página no es para su función" in response.content.decode()


# --- paces side by side ----------------------------------------------------------------------


def test_the_preview_compares_protocol_slower_and_custom_paces(
    logged_in: Client, patient: Patient
) -> None:
    response = logged_in.post(
        reverse("plan_preview", args=[patient.pk]),
        plan_post(pace="custom", length_days="28", step_days="4"),
    )
    paces = {row["label"]: row for row in response.context["paces"]}
    assert list(paces) == ["Protocol pace", "Slower (× 1.5)", "Custom"]
    assert paces["Protocol pace"]["days"] == 14
    assert paces["Slower (× 1.5)"]["days"] > 14
    assert paces["Custom"]["days"] == 28
    assert paces["Custom"]["chosen"]
    assert not paces["Protocol pace"]["chosen"]
    body = response.content.decode()
    assert "Paces side by side" in body
    assert "Custom (chosen)" in body
    # Without a custom pace, the two paces of the protocol.
    response = logged_in.post(
        reverse("plan_preview", args=[patient.pk]), plan_post(pace="standard")
    )
    assert [row["label"] for row in response.context["paces"]] == [
        "Protocol pace", "Slower (× 1.5)"
    ]
