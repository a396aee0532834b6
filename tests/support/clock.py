"""The suite's one clock.

Every test runs with the clock frozen at ``NOW`` (the autouse ``frozen_clock`` fixture in
``tests/conftest.py``), and every date a test uses is derived from it, so no test depends
on the day it is run. Tests that talk to a process with its own clock (a real Celery
worker) carry ``@pytest.mark.real_clock`` and derive their dates from the real clock.

``.ci/run`` runs the fast suite a second time with the process clock 400 days ahead
(Debian's faketime), so a test that escapes this clock fails the day it is written.
"""

from __future__ import annotations

import datetime as dt

# Saturday 20 February 2027, 09:00 UTC (04:00 in New York): nine days before the plans
# of the suite start.
NOW = dt.datetime(2027, 2, 20, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
# Monday 1 March 2027: the first day of the plans most tests make.
START = TODAY + dt.timedelta(days=9)
