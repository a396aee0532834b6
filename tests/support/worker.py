"""Start real Celery worker processes against the test database and a given broker.
The helpers themselves live in ops.drill, which `python -m ops fault_drill` shares."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ops import drill
from ops.drill import kill_worker, stop_worker, wait_for

__all__ = ["kill_worker", "running_worker", "start_worker", "stop_worker", "wait_for"]


def start_worker(
    broker_url: str,
    log_path: Path,
    *,
    pool: str = "solo",
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A worker on the database the tests are using right now (the test database)."""
    return drill.start_worker(
        broker_url,
        log_path,
        database=drill.database_url(),
        pool=pool,
        concurrency=concurrency,
        extra_env={"DEBUG": "1", **(extra_env or {})},
    )


@contextmanager
def running_worker(
    broker_url: str, log_path: Path, **options: object
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(broker_url, log_path, **options)  # type: ignore[arg-type]
    try:
        yield process
    finally:
        stop_worker(process)
