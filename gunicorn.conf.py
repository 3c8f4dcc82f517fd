"""gunicorn settings for Pawtal: `gunicorn -c gunicorn.conf.py 'app:create_app()'`.

Workers, address and the rest come from the command line or GUNICORN_CMD_ARGS as usual; this file only
refuses a setup that would quietly weaken the sign-in limits.
"""
import os


def on_starting(server):
    """Several workers must share their rate-limit counters (Redis), or each worker allows the full limit."""
    storage = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    if server.cfg.workers > 1 and storage.startswith("memory://") and os.environ.get("PAWTAL_ENV") == "production":
        raise SystemExit(f"{server.cfg.workers} workers with RATELIMIT_STORAGE_URI={storage}: each worker would count "
                         "sign-in attempts on its own. Set RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0.")
