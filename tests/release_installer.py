"""Installs earlier releases for tests/test_migrations.py, each in a process forked from this one.

A release is installed by its own code, in a process of its own (`flask db upgrade`, then `flask seed-demo`). Two
thirds of that process's time went to importing the libraries (Flask, SQLAlchemy, Alembic, stripe, Pillow, ...)
before the release did anything, once per release and database. This process imports them once, as the app
server's pre-forking master does, then forks a child per release: the child starts with the libraries as a fresh
import leaves them and imports the release's own modules from its source tree. None of today's code is ever
imported here, so no hook of today's app (an event listener on SQLAlchemy's Session, say) can reach a release.

Protocol, one JSON line each way: the first line read is the list of modules to import, answered {"ready": true}
once they are; then each line is a job {"source", "env", "code", "output"}, answered {"returncode"} once the child
has exited, its stdout and stderr in the file `output`. The parent starts this process without PYTHONPATH, so
nothing of today's tree is on a release's path.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import traceback


def serve() -> None:
    sys.path.pop(0)  # this file's folder (tests/): a release imports nothing from it
    for name in json.loads(sys.stdin.readline()):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module importable only in some setting: a release imports it if it needs it
            pass
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            run(job)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)


def run(job: dict) -> None:
    """In the child: run the job's code as `python -c` would in the release's folder and environment; never returns."""
    code = 1
    try:
        output = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        traceback.print_exc()  # to the test process's stderr, which this process shares
        os._exit(code)
    try:
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)  # the jobs' pipe is the parent's, not for the release or what it starts
        os.close(nothing)
        sys.stdin = open(0, closefd=False)
        os.chdir(job["source"])
        os.environ.update(job["env"])
        sys.path.insert(0, job["source"])
        sys.argv = ["-c"]
        try:
            exec(compile(job["code"], "<release>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the test's code
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            if not isinstance(done.code, (int, type(None))):
                print(done.code, file=sys.stderr)
        except BaseException:  # noqa: BLE001 - reported in the output, as python -c would
            traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    serve()
