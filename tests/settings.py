"""Settings for the test suite: the project's settings with test-only speed-ups.

The suite follows the same environment variables as the site, so the second CI
pass only sets DATABASE_URL and CELERY_BROKER_URL.
"""

import os

os.environ.setdefault("DEBUG", "1")

from planner.settings import *  # noqa: F403
from planner.settings import DATABASES, VAR_DIR

# Argon2 is deliberately slow; tests create many users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a real worker process can share the test database.
    # TEST_DB_SUFFIX lets two suites run side by side in one checkout.
    _suffix = os.environ.get("TEST_DB_SUFFIX", "")
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db{_suffix}.sqlite3")}
elif os.environ.get("TEST_DB_SUFFIX"):
    _name = DATABASES["default"]["NAME"]
    DATABASES["default"]["TEST"] = {"NAME": f"test_{_name}{os.environ['TEST_DB_SUFFIX']}"}

if "CELERY_BROKER_URL" not in os.environ:
    # Never deliver into the broker file of a `make run` on the same checkout.
    _broker = f"test-celery-broker{os.environ.get('TEST_DB_SUFFIX', '')}.sqlite3"
    CELERY_BROKER_URL = f"sqla+sqlite:///{VAR_DIR / _broker}"

# Push is off unless a test turns it on with its own keys: the development keys a
# `make run` wrote to var/ must not change what the suite sees.
VAPID_PUBLIC_KEY = VAPID_PRIVATE_KEY = ""

# The preview's throttle counts in the cache across tests under a frozen clock; its own
# test (tests/api/test_hygiene.py) sets a rate.
PLAN_PREVIEW_RATE = None
