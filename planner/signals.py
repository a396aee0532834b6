"""What planner tells the layers above it. planner imports nothing from reminders,
portal, api or clinic (the import-linter contract in pyproject.toml): where a change to
a plan or its doses must reach the patient or the reminder rows, planner sends one of
these signals and reminders (reminders/receivers.py, connected in its AppConfig.ready)
does the delivery side, in the same transaction, because Django signals are synchronous.
"""

from __future__ import annotations

from django.dispatch import Signal

# revision, approved (planner.schedule.ApprovedPlan), from_time: doses were written.
doses_scheduled = Signal()
# plan_id, from_time: the plan's doses from that moment on were withdrawn.
doses_withdrawn = Signal()
# plan, now, dropped (["YYYY-MM-DD HH:MM", ...]): a zone change put these doses in the past.
doses_dropped = Signal()
# plan_id, now: the patient confirmed a dose.
dose_taken = Signal()
# plan, key, due_at, context: the running plan was replaced by a newer one.
plan_replaced = Signal()
# plan, key, due_at, context: the running plan's schedule was revised.
plan_revised = Signal()
# plan, review: a reviewer decided on a plan.  revision, by: a plan waits for review.
review_decided = Signal()
review_requested = Signal()
