"""What a worker holds open before any client comes: the accounts
database is opened by the threads that look accounts up (password checks,
SMTP recipient lookups: userdb_thread()), not by the worker's loop thread,
which never used its handle (session_env.userdb, removed)."""
import os
import time

from conftest import scaled


def open_files(pid):
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass  # closed meanwhile
    return out


def test_idle_worker_holds_no_accounts_db(postel):
    deadline = time.monotonic() + scaled(10)
    workers = postel.children()
    while not workers and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = postel.children()
    assert workers
    for pid in workers:
        held = [f for f in open_files(pid) if "accounts.db" in f]
        assert held == [], (pid, held)
