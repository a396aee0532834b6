"""`{% load phones %}` then `{{ paragraph|clinic_tel_links:clinic }}`: the clinic's numbers
in a message's text as tel: links (planner.clinic_phones.clinic_phones_linked)."""

from __future__ import annotations

from django import template

from planner.clinic_phones import clinic_phones_linked

register = template.Library()
register.filter("clinic_tel_links", clinic_phones_linked)
