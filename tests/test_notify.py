"""Changes reach every worker within one second (IMAP issue, first part,
item 4; relay issue: the typed master/child channel). A change committed
in one worker (an SMTP delivery, a POP3 expunge) wakes the store watchers
of that worker (from=local) and, through the master's channel, of every
other worker (from=peer), old generations included. Until IMAP IDLE
watches mailboxes, each worker logs what it sees:
    event=mailbox_changed user=... mailbox=... from=local|peer
and log lines carry the worker's pid."""
import datetime
import os
import re
import signal
import time

from conftest import scaled
from pop3_helpers import deliver, login, new_user

LINE = re.compile(r'^ts=(\S+) level=info proc=worker pid=(\d+) '
                  r'event=mailbox_changed user="([^"]*)" mailbox="([^"]*)" '
                  r'modseq=\d+ from=(local|peer)$')
DELIVERED = re.compile(r'^ts=(\S+) .* pid=(\d+) event=store_delivered user="([^"]*)"')


def ts(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def changes(srv, user, mailbox="INBOX"):
    """[(ts, pid, from)] of the mailbox_changed lines for user's mailbox."""
    out = []
    for line in srv.log().splitlines():
        m = LINE.match(line)
        if m and m.group(3) == user and m.group(4) == mailbox:
            out.append((ts(m.group(1)), int(m.group(2)), m.group(5)))
    return out


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def seen_by_every_worker(srv, user, pids, mailbox="INBOX"):
    """One worker saw the change as its own, every other as a peer's."""
    got = changes(srv, user, mailbox)
    local = {pid for _, pid, frm in got if frm == "local"}
    peer = {pid for _, pid, frm in got if frm == "peer"}
    return len(local) == 1 and peer == set(pids) - local


def test_delivery_reaches_the_other_worker_within_a_second(postel_factory):
    srv = postel_factory(workers=2)
    pids = srv.children()
    assert len(pids) == 2
    user, _ = new_user(srv)
    sent = time.monotonic()
    deliver(srv, user)
    assert wait_for(lambda: seen_by_every_worker(srv, user, pids), scaled(1.0)), \
        f"not seen by both workers {pids} within 1 s of the 250:\n" + srv.log_tail()
    assert time.monotonic() - sent < scaled(1.0) + 1.0
    # measured on the server's own clock: commit -> the other worker
    got = changes(srv, user)
    local = [t for t, _, frm in got if frm == "local"][0]
    peer = [t for t, _, frm in got if frm == "peer"][0]
    delivered = [ts(m.group(1)) for m in map(DELIVERED.match, srv.log().splitlines())
                 if m and m.group(3) == user]
    assert len(delivered) == 1
    assert (peer - delivered[0]).total_seconds() < scaled(1.0), (delivered, local, peer)
    # one change, one line per worker: no echo back from the master
    time.sleep(0.2)
    assert len(changes(srv, user)) == 2, changes(srv, user)
    # every child said hello on its channel, and none was dropped
    assert "event=channel_error" not in srv.log()
    assert "event=channel_closed" not in srv.log()


def test_expunge_reaches_every_worker(postel_factory):
    srv = postel_factory(workers=2)
    pids = srv.children()
    user, password = new_user(srv)
    deliver(srv, user)
    assert wait_for(lambda: seen_by_every_worker(srv, user, pids), scaled(1.0))
    before = len(changes(srv, user))
    p = login(srv, user, password)
    p.dele(1)
    p.quit()
    assert wait_for(lambda: len(changes(srv, user)) >= before + 2, scaled(1.0)), \
        srv.log_tail()
    assert sorted(frm for _, _, frm in changes(srv, user)[before:]) == ["local", "peer"]


def test_old_generation_still_hears_of_changes(postel_factory):
    """After a reload the retiring worker still serves sessions (later:
    IDLE ones), so it must still hear of changes made by the new ones."""
    srv = postel_factory(workers=1)
    srv.stable_workers = False   # the reload replaces the worker
    old = srv.children()
    assert len(old) == 1
    held = srv.smtp()
    try:
        assert held.greeting.code == 220
        os.kill(srv.pid, signal.SIGHUP)
        assert wait_for(lambda: len(set(srv.children()) - set(old)) == 1, scaled(10))
        new = list(set(srv.children()) - set(old))
        # the new worker has said hello before it accepts
        assert wait_for(lambda: f"pid={new[0]} event=worker_started" in srv.log(), scaled(10))
        user, _ = new_user(srv)
        deliver(srv, user)
        assert wait_for(lambda: seen_by_every_worker(srv, user, old + new), scaled(1.0)), \
            srv.log_tail()
        got = changes(srv, user)
        assert {(pid, frm) for _, pid, frm in got} == {(new[0], "local"), (old[0], "peer")}
    finally:
        held.close()



def test_a_crash_looping_worker_does_not_hold_up_changes(postel_factory):
    """A worker that dies at once is replaced a second later. The master
    used to sleep that second in its loop, so a change committed meanwhile
    reached the other workers a second late; now a timer waits instead."""
    if os.environ.get("POSTEL_ASAN") == "1":
        import pytest
        pytest.skip("timing against a fixed 1 s delay: release build only")
    srv = postel_factory(workers=3)
    srv.stable_workers = False   # this test kills workers on purpose
    pids = srv.children()
    assert len(pids) == 3
    user, _ = new_user(srv)
    os.kill(pids[0], signal.SIGKILL)
    # its replacement (at once, or a second later if it was young)...
    assert wait_for(lambda: len(set(srv.children()) - set(pids)) == 1, 3.0), \
        srv.log_tail()
    young = (set(srv.children()) - set(pids)).pop()
    # ...dies within its first second: the master waits a second to refill
    os.kill(young, signal.SIGKILL)
    assert wait_for(lambda: young not in srv.children(), 1.0)
    deliver(srv, user)
    survivors = [p for p in pids[1:]]
    assert wait_for(lambda: seen_by_every_worker(srv, user, survivors), 3.0), \
        srv.log_tail()
    got = changes(srv, user)
    delivered = [ts(m.group(1)) for m in map(DELIVERED.match, srv.log().splitlines())
                 if m and m.group(3) == user]
    peer = [t for t, _, frm in got if frm == "peer"][0]
    assert (peer - delivered[0]).total_seconds() < 0.5, (delivered, got)
    # and the slot is refilled: three workers again
    assert wait_for(lambda: len(srv.children()) == 3, 3.0), srv.log_tail()
