"""Nothing blocks the event loop (issue 8 item 8, the session side):
spool writes of big messages, POP3's opening of a message (with an index
lookup when another reader moved it), and the account lookups of MAIL
and RCPT run on the worker's thread pool. While
another process holds accounts.db busy (readers wait for it),
a RCPT on one connection waits, and other connections of the same worker
(workers=1) are still answered at once: an SMTP NOOP and a POP3 CAPA in
under 0.5 s. On the old code the RCPT lookup held the loop until the
lock went."""
import os
import subprocess
import time

import pytest

from conftest import ALICE, BOB, make_message, running_postel, scaled, token
from pop3_helpers import POP3Raw, deliver, login, new_user

LOCK_SECONDS = 3

# accounts.db is in WAL mode, where BEGIN EXCLUSIVE keeps out writers
# only (and locking_mode=EXCLUSIVE is refused while the server has it
# open). What makes a reader wait is what a long recovery or a stuck
# process would do: hold the WAL-index read-mark locks. SQLite's unix VFS
# keeps its 8 shm locks at bytes 120..127 of the -shm file (WRITE, CKPT,
# RECOVER, READ0..READ4); a reader needs a shared lock on one READ byte
# and retries, sleeping, for about 10 s before it gives up.
LOCKER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "-shm", os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 123, os.SEEK_SET)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture(scope="module")
def srv():
    with running_postel(workers=1) as s:
        yield s


def hold_lock(srv, seconds, db=None):
    """Make readers of db (default accounts.db) wait for `seconds`."""
    db = db or srv.datadir / "db" / "accounts.db"
    p = subprocess.Popen(["/usr/bin/python3", "-c", LOCKER, str(db), str(seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line == b"locked\n", (line, p.stderr.read())
    return p


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


@pytest.mark.parametrize("command", ["RCPT", "MAIL"])
def test_locked_accounts_do_not_stall_others(srv, command):
    other_smtp = srv.smtp()
    other_smtp.ehlo()
    other_pop3 = POP3Raw(srv.pop3_port)
    if command == "RCPT":
        slow = srv.smtp()
        slow.ehlo()
        assert slow.cmd(f"MAIL FROM:<{BOB}>").code == 250
        line = f"RCPT TO:<{ALICE}>"
    else:
        # MAIL after AUTH asks whether the user may send as an alias of
        # hers (her own address needs no lookup)
        slow = srv.submission_authed()
        line = "MAIL FROM:<postmaster@example.org>"
    locker = hold_lock(srv, LOCK_SECONDS)
    try:
        slow.send(line + "\r\n")
        time.sleep(0.3)          # the lookup is waiting for the lock now
        r, dt = timed(lambda: other_smtp.cmd("NOOP", timeout=10))
        assert r.code == 250, r
        assert dt < 0.5, f"SMTP NOOP took {dt:.2f} s while {command} waited for accounts.db"
        r, dt = timed(lambda: other_pop3.cmd("CAPA", timeout=10))
        assert r.startswith(b"+OK"), r
        other_pop3.multi()
        assert dt < 0.5, f"POP3 CAPA took {dt:.2f} s while {command} waited for accounts.db"
        # the waiting command is answered once the lock goes (or 451
        # when SQLite gives up)
        r = slow.read_reply(timeout=15)
        assert r.code in (250, 451), r
    finally:
        locker.wait(timeout=scaled(20))
    if r.code == 250 and command == "RCPT":
        assert slow.cmd("RSET").code == 250
    slow.quit()
    other_smtp.quit()
    assert other_pop3.cmd("QUIT").startswith(b"+OK")


def test_pipelined_rcpts_answered_in_order(srv):
    """Lookups come back in order: replies follow the commands (RFC 2920)."""
    c = srv.smtp()
    c.ehlo()
    c.send(f"MAIL FROM:<{BOB}>\r\n".encode() +
           b"".join(f"RCPT TO:<{a}>\r\n".encode() for a in
                    [ALICE, "nobody@example.org", "x@elsewhere.example", BOB]) +
           b"NOOP\r\n")
    codes = [r.code for r in c.read_replies(6)]
    assert codes == [250, 250, 550, 554, 250, 250], codes
    c.quit()


def thread_wchar(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise AssertionError("no wchar")


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_spool_written_off_the_loop(srv, verb):
    """A message bigger than the in-memory part goes to the spool file
    from the thread pool: the event-loop thread (tid == pid) writes only
    replies, not the 4 MB of the message. On the old code the loop thread
    wrote every spool octet itself."""
    kids = srv.children()
    assert len(kids) == 1, kids
    worker = kids[0]
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE,
                       body=[f"{i:08d} " + "z" * 70 for i in range(50000)] + ["end " + tok])
    assert len(msg) > 4_000_000
    before = thread_wchar(worker, worker)
    c = srv.smtp()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{BOB}>").code == 250
    assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
    if verb == "DATA":
        r = c.data(msg)
    else:
        half = len(msg) // 2
        c.send(f"BDAT {half}\r\n".encode() + msg[:half])
        assert c.read_reply().code == 250
        c.send(f"BDAT {len(msg) - half} LAST\r\n".encode() + msg[half:])
        r = c.read_reply(timeout=30)
    assert r.code == 250, r
    c.quit()
    written = thread_wchar(worker, worker) - before
    assert written < 200_000, f"the event-loop thread wrote {written} octets"
    found = srv.find(ALICE, tok)
    assert len(found) == 1 and found[0].endswith(msg)


def test_retr_index_lookup_does_not_stall_others(srv):
    """RETR of a message another Maildir reader has moved asks the user's
    index where it is now; with that index busy, other connections of the
    worker are still answered at once."""
    user, password = new_user(srv)
    tok, stored = deliver(srv, user)
    p = login(srv, user, password)   # poplib over STLS
    other = srv.smtp()
    other.ehlo()
    [path] = [path for path, data in srv.messages(user) if tok.encode() in data]
    os.rename(path, path.parent.parent / "cur" / (path.name + ":2,S"))
    locker = hold_lock(srv, LOCK_SECONDS, srv.maildir(user) / "postel-index.sqlite")
    try:
        p.sock.settimeout(scaled(15))
        p._putcmd("RETR 1")
        time.sleep(0.3)          # the index lookup is waiting now
        r, dt = timed(lambda: other.cmd("NOOP", timeout=10))
        assert r.code == 250, r
        assert dt < 0.5, f"SMTP NOOP took {dt:.2f} s while RETR waited for the index"
        resp, lines, _ = p._getlongresp()
        assert resp.startswith(b"+OK"), resp
        assert b"".join(line + b"\r\n" for line in lines) == stored
    finally:
        locker.wait(timeout=scaled(20))
    p.quit()
    other.quit()
