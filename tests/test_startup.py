"""Start-up: the databases are ready before any worker starts (issue 8
items 13 and 11).

On a fresh data directory the workers used to race to switch accounts.db
to WAL; one lost with "database is locked" and was respawned. A damaged
accounts.db made the master respawn workers every second while clients
never got a greeting; now `serve` stops at start with an error naming the
file.
"""
import os
import signal
import subprocess
import time

import pytest

from conftest import Postel, scaled

FRESH_STARTS = 5
RACE_MARKERS = ("database is locked", "event=worker_crashed", "event=worker_start_failed")


def test_fresh_data_dir_starts_without_races():
    """Bounded: FRESH_STARTS fresh data directories, 16 workers each. The
    race itself is rare (about 1 start in 20 with 16 workers on a 2-core
    machine), so the test also asserts its cause is gone: the master has
    the database ready before the first worker starts."""
    for i in range(FRESH_STARTS):
        srv = Postel({"workers": "16"})
        try:
            srv.start()
            problems = srv.stop()
            log = srv.log()
        finally:
            srv.kill_all()
            srv.cleanup()
        assert not problems, "\n".join(problems) + "\n" + log[-3000:]
        assert "event=worker_started" in log, log[-3000:]
        for marker in RACE_MARKERS:
            assert marker not in log, f"start {i + 1}: {marker!r} in the log:\n{log[-3000:]}"
        ready = log.find("event=databases_ready")
        first_worker = log.find("event=worker_started")
        assert 0 <= ready < first_worker, (
            f"start {i + 1}: workers started before the databases were ready:\n"
            + log[-3000:])


def damage_whole_file(path, size):
    path.write_bytes((b"this is not an SQLite database \xff\x00" * (size // 16 + 1))[:size])


def damage_pages_after_first(path, size):
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(bytes((0x5a ^ (i & 0xff)) for i in range(size - 4096)))


@pytest.mark.parametrize("damage", [damage_whole_file, damage_pages_after_first],
                         ids=["whole-file", "pages-after-first"])
def test_corrupt_accounts_db_stops_serve(damage):
    srv = Postel()
    try:
        srv.setup_accounts()
        for i in range(60):   # enough rows that tables span several pages
            srv.cli("domain", "add", f"d{i}.example")
        # the file, wherever this version keeps it; its WAL was checkpointed
        # when the last CLI closed it
        found = sorted(srv.datadir.rglob("accounts.db"))
        assert len(found) == 1, found
        db = found[0]
        for suffix in ("-wal", "-shm"):
            side = db.with_name(db.name + suffix)
            if side.exists():
                side.unlink()
        size = db.stat().st_size
        assert size > 8192, size
        st = db.stat()
        damage(db, size)
        os.chown(db, st.st_uid, st.st_gid)

        log = open(srv.log_path, "ab")
        p = subprocess.Popen(srv.global_args() + ["serve"], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True)
        log.close()
        t0 = time.monotonic()
        try:
            rc = p.wait(timeout=scaled(8))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            pytest.fail("serve kept running on a damaged accounts.db:\n" + srv.log_tail())
        took = time.monotonic() - t0
        assert rc != 0, srv.log_tail()
        lines = [x for x in srv.log().splitlines() if "event=start_failed" in x]
        assert lines and str(db) in lines[-1], srv.log_tail()
        assert "event=worker_started" not in srv.log(), srv.log_tail()
        assert took < scaled(5), took
    finally:
        srv.kill_all()
        srv.cleanup()


def test_accounts_db_damaged_while_running_answers_temporary_errors():
    """Damaged under a running server: clients are still greeted and get a
    temporary error (RFC 5321 4.2.5: 451, 4.3.0) rather than a respawning
    worker; no worker dies."""
    srv = Postel()
    try:
        srv.setup_accounts()
        for i in range(60):
            srv.cli("domain", "add", f"d{i}.example")
        srv.start()   # greetings only: no page of accounts.db is cached yet
        db = sorted(srv.datadir.rglob("accounts.db"))[0]
        damage_pages_after_first(db, db.stat().st_size)
        for _ in range(3):
            with srv.smtp() as c:
                assert c.greeting.code == 220, c.greeting
                c.ehlo()
                assert c.cmd("MAIL FROM:<x@remote.example>").code == 250
                r = c.cmd("RCPT TO:<alice@example.org>")
                assert r.code == 451 and r.enhanced == "4.3.0", r
                c.quit()
        problems = srv.stop()
        assert not problems, "\n".join(problems) + "\n" + srv.log_tail()
        assert "event=worker_crashed" not in srv.log(), srv.log_tail()
    finally:
        srv.kill_all()
        srv.cleanup()
