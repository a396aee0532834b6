"""One clinician's dashboard, request by request, in this process: the median wall and
CPU time, the number of queries and (with --profile) where the time goes.

Run it against a database the load test left behind (docs/reliability.md):

    DB=postgres://postgres@127.0.0.1:5432/taper_dash
    .venv/bin/python ops/load_test.py --database-url $DB --patients 1000 --clinics 1 \\
        --targets clinic --connections 1 --duration 5 --keep-db
    DATABASE_URL=$DB DEBUG=1 ALLOWED_HOSTS=testserver .venv/bin/python ops/bench_dashboard.py

(docs/reliability.md's figures: with production settings instead of DEBUG=1, as the load
test sets them, and ALLOWED_HOSTS=testserver.)

`--profile` prints cProfile's top 40 by cumulative time (PROFILE_SORT=tottime for the
functions' own time); `--explain` prints PostgreSQL's plan and time of each query.

CPU time (`time.process_time`) is this process's alone, so it compares two versions of
the code fairly on a machine other work is loading; wall time does not.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", default="load-clinician-1")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 40")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="PostgreSQL's EXPLAIN ANALYZE of each of the page's queries: its time and plan",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planner.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(secure=True)
    client.force_login(User.objects.get(username=args.user))
    for _ in range(3):  # warm: templates, the minute's session write
        if client.get("/clinic/").status_code != 200:
            raise SystemExit("the dashboard did not answer 200")
    walls, cpus = [], []
    for _ in range(args.requests):
        wall, cpu = time.perf_counter(), time.process_time()
        client.get("/clinic/")
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get("/clinic/")
    print(
        f"{args.requests} requests: wall median {statistics.median(walls):.1f} ms, "
        f"CPU median {statistics.median(cpus):.1f} ms (min {min(cpus):.1f}), "
        f"{len(queries.captured_queries)} queries"
    )
    if args.explain:
        with connection.cursor() as cursor:
            for index, query in enumerate(queries.captured_queries, 1):
                sql = query["sql"]
                if not sql.lstrip("( ").upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [row[0] for row in cursor.fetchall()]
                print(f"\n#{index} {plan[-1].strip()}: {sql[:160]}")
                print("\n".join(plan[:-2]))
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            client.get("/clinic/")
        profile.disable()
        order = os.environ.get("PROFILE_SORT", "cumulative")
        pstats.Stats(profile).sort_stats(order).print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
