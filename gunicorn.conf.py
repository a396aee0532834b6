"""gunicorn's configuration for production (README: "Running in production").

    gunicorn --config gunicorn.conf.py planner.wsgi

Run from the project directory, a bare `gunicorn planner.wsgi` reads this file too.
The access log goes to stdout through planner.logfilters.RedactingGunicornLogger, so
feed addresses, e-mail action links, invitation and password-reset links never reach
it (tests/planner/test_gunicorn.py runs gunicorn and reads what it wrote).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # behind the TLS proxy
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# "-" is stdout; an empty value turns the access log off.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
logger_class = "planner.logfilters.RedactingGunicornLogger"
# Addresses of the TLS proxy whose X-Forwarded-* headers gunicorn believes.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
