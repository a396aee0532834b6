"""Operations code: the fault drill, the benchmarks and the load test. Not part of the
installed application (pyproject.toml installs planner, taper, reminders, portal and
api only); run from a checkout:

    .venv/bin/python -m ops fault_drill        # docs/reliability.md, "Fault drill"
    .venv/bin/python -m ops bench_reminders    # README, "Benchmarks"
    .venv/bin/python -m ops bench_calendar
    .venv/bin/python ops/load_test.py          # or `make load`
    .venv/bin/python ops/bench_taper.py
    .venv/bin/python ops/bench_taper_drugs.py  # a year of 2-week benzodiazepine steps
"""
