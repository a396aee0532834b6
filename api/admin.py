"""API tokens are issued, rotated and revoked with `manage.py api_token`, which shows a
key once. DRF's own admin page would list every key in clear text, so it is removed."""

from django.contrib import admin
from rest_framework.authtoken import admin as authtoken_admin  # noqa: F401  registers it first
from rest_framework.authtoken.models import TokenProxy

if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
