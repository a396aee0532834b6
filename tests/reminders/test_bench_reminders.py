"""`python -m ops bench_reminders` as the README runs it, only smaller: real worker
processes on PostgreSQL and Redis deliver through the null channel, real SMTP and Web
Push, each stand-in receives every reminder, and the benchmark leaves nothing behind."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from ops import bench_reminders
from planner.models import Clinic
from reminders.models import Reminder

# The benchmark's worker processes read the real clock.
pytestmark = pytest.mark.real_clock


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_benchmark_delivers_through_every_channel_and_cleans_up() -> None:
    out = StringIO()
    call_command(
        bench_reminders.Command(), "--skip-naive", "--reminders", "60", "--plans", "6",
        "--large", "300", "--concurrency", "1", stdout=out,
    )  # fmt: skip
    report = out.getvalue()
    print(report)
    for channel in ("null", "smtp", "push"):
        line = next(line for line in report.splitlines() if f"dispatcher, {channel} " in line)
        assert line.split()[5] == "60", f"all 60 delivered through {channel}: {line}"
    assert re.search(r"dispatcher, smtp .* 60 through \d+ SMTP connections", report)
    assert re.search(r"dispatcher, push .* 60, 0 failed decryption or VAPID checks", report)
    assert "dispatcher tick, median of 15" in report
    assert not Clinic.objects.filter(name__startswith="Benchmark clinic").exists()
    assert not Reminder.objects.exists()
