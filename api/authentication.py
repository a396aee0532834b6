"""Token authentication for other systems: django-rest-knox, which keeps only a SHA-512
digest of each token, so a leaked database or backup holds no usable key, and gives
every token an expiry."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from knox.auth import TokenAuthentication
from rest_framework import exceptions


class HashedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> Any:
        # knox decodes the header as UTF-8 and would fail with a 500 on other bytes.
        try:
            token.decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return super().authenticate_credentials(token)
