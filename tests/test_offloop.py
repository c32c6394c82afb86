"""Nothing blocks the event loop (issue 8 item 8, the session side):
spool writes of big messages, POP3's opening of a message (with an index
lookup when another reader moved it), and the account lookups of MAIL,
RCPT and logins (SMTP AUTH PLAIN, POP3 USER/PASS, SCRAM-SHA-256's
client-first, which needs the account's salt) run on the worker's
thread pools. While another process holds accounts.db busy (readers
wait for it), the command on one connection waits, and other connections
of the same worker (workers=1) are still answered at once: an SMTP NOOP
and a POP3 CAPA in under 0.5 s. On the old code the lookup held the loop
until the lock went.

A client that goes away while its login waits (for the login penalty, or
for a lookup stuck on that lock) is freed at once: its disconnect line
comes within a second, not after the wait; the job in flight comes back
to nobody and its verdict is still logged. Closing a POP3 session's
store handle (which may checkpoint an index's WAL) runs on the pool.

IMAP's long commands run on the user's lane too: while one user's
SEARCH BODY, SORT (SUBJECT) or THREAD REFERENCES reads a gigabyte of
message bodies (4096 messages of 256 KB, about a second), another
user's NOOP on the same worker is answered in a fraction of that time,
again and again. On the loop it would wait for the whole scan."""
import base64
import os
import pathlib
import subprocess
import threading
import time

import pytest

from conftest import (ALICE, BOB, USERS, b64, make_message, plain_auth_blob,
                      running_postel, scaled, token)
from imap_helpers import IMAPRaw, status_of
from pop3_helpers import POP3Raw, deliver, login, new_user, raw

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


def warm_accounts(srv):
    """A worker thread opens accounts.db (as the postel user, so its -shm
    is the server's own): workers hold no handle until a lookup needs
    one."""
    c = srv.smtp()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{BOB}>").code == 250
    assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
    c.quit()


def hold_lock(srv, seconds, db=None):
    """Make readers of db (default accounts.db) wait for `seconds`."""
    if db is None:
        db = srv.datadir / "db" / "accounts.db"
        if not pathlib.Path(str(db) + "-shm").exists():
            warm_accounts(srv)
    p = subprocess.Popen(["/usr/bin/python3", "-c", LOCKER, str(db), str(seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line == b"locked\n", (line, p.stderr.read())
    return p


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def assert_noop_prompt(other, what):
    """While what waits for accounts.db, a NOOP on another connection of
    the worker is answered at once."""
    time.sleep(0.3)          # the lookup is waiting for the lock now
    r, dt = timed(lambda: other.cmd("NOOP", timeout=10))
    assert r.code == 250, r
    assert dt < 0.5, f"SMTP NOOP took {dt:.2f} s while {what} waited for accounts.db"


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
        assert_noop_prompt(other_smtp, command)
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


def auth_start(srv, how, source="127.0.0.1"):
    """A connection about to log in as alice, and the line that does it
    (the line's lookup is what waits for accounts.db)."""
    if how == "POP3 PASS":
        c = raw(srv, implicit=True, source=source)
        assert c.cmd(f"USER {ALICE}").startswith(b"+OK")
        return c, f"PASS {USERS[ALICE]}"
    c = srv.submissions(source=source)
    c.ehlo()
    if how == "AUTH PLAIN":
        return c, f"AUTH PLAIN {plain_auth_blob(ALICE, USERS[ALICE])}"
    return c, "AUTH SCRAM-SHA-256 " + b64(f"n,,n={ALICE},r=offloop-cnonce".encode())


@pytest.mark.parametrize("how", ["AUTH PLAIN", "POP3 PASS", "SCRAM client-first"])
def test_login_lookup_does_not_stall_others(srv, how):
    """The account lookup of a login waits on a pool thread: an SMTP NOOP
    on another connection of the worker is answered at once."""
    other = srv.smtp()
    other.ehlo()
    slow, line = auth_start(srv, how)
    locker = hold_lock(srv, LOCK_SECONDS)
    try:
        slow.send(line + "\r\n")
        assert_noop_prompt(other, how)
        # the login goes on once the lock goes (or a temporary failure
        # when SQLite gives up)
        if how == "POP3 PASS":
            r = slow.line(timeout=scaled(15))
            assert r.startswith(b"+OK") or b"[SYS/TEMP]" in r, r
        else:
            r = slow.read_reply(timeout=scaled(15))
            want = 235 if how == "AUTH PLAIN" else 334
            assert r.code in (want, 454), r
            if r.code == 334:
                # server-first: the client nonce, extended
                assert base64.b64decode(r.text).startswith(b"r=offloop-cnonce"), r
                assert slow.cmd("*").code == 501
    finally:
        locker.wait(timeout=scaled(20))
    if how == "POP3 PASS":
        assert slow.cmd("QUIT").startswith(b"+OK")
    else:
        assert slow.cmd("NOOP").code == 250
        slow.quit()
    other.quit()


def disconnect_delay(srv, ip, t0, limit, count=1):
    """Seconds from t0 until the log holds count disconnect lines of
    sessions from ip (None if not within limit)."""
    deadline = t0 + limit
    while time.monotonic() < deadline:
        if srv.log().count(f"event=disconnect ip={ip} ") >= count:
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def test_disconnect_in_penalty_wait_frees_the_session(srv):
    """Two failures from an address: its next login waits 2 s before the
    check. A client that goes away meanwhile is freed at once (the old
    code kept the session until the wait and the check were over)."""
    ip = "127.0.5.1"
    with srv.submissions(source=ip) as c:
        c.ehlo()
        assert c.auth_plain(ALICE, "wrong-1").code == 535
        assert c.auth_plain(ALICE, "wrong-2").code == 535   # waited 1 s
        c.quit()
    assert disconnect_delay(srv, ip, time.monotonic(), scaled(5)) is not None
    c = srv.submissions(source=ip)
    c.ehlo()
    c.send(f"AUTH PLAIN {plain_auth_blob(ALICE, USERS[ALICE])}\r\n")
    time.sleep(0.3)              # in its 2 s penalty wait now
    c.close()
    dt = disconnect_delay(srv, ip, time.monotonic(), scaled(10), count=2)
    assert dt is not None, srv.log_tail()
    assert dt < 1.0, f"session freed {dt:.2f} s after the client left its penalty wait"
    assert srv.wait_for_log(rf"event=auth result=abandoned ip={ip} ") is not None
    other = srv.smtp()
    other.ehlo()
    assert other.cmd("NOOP").code == 250
    other.quit()


def test_disconnect_during_lookup_frees_the_session(srv):
    """A login whose account lookup waits for accounts.db: the client goes
    away, its session is freed at once; the job comes back later to
    nobody, and its verdict is logged (and counted for the penalty)."""
    ip = "127.0.5.2"
    c, line = auth_start(srv, "AUTH PLAIN", source=ip)
    locker = hold_lock(srv, LOCK_SECONDS)
    try:
        c.send(line + "\r\n")
        time.sleep(0.3)          # the lookup is waiting for the lock now
        c.close()
        dt = disconnect_delay(srv, ip, time.monotonic(), scaled(LOCK_SECONDS + 10))
        assert dt is not None, srv.log_tail()
        assert dt < 1.0, f"session freed {dt:.2f} s after the client left its login"
    finally:
        locker.wait(timeout=scaled(20))
    line = srv.wait_for_log(rf"event=auth result=abandoned ip={ip} .*verdict=", timeout=15)
    assert line is not None and ("verdict=ok" in line or "verdict=none" in line), line
    other = srv.smtp()
    other.ehlo()
    assert other.cmd("NOOP").code == 250
    other.quit()


def test_pop3_store_close_off_the_loop(srv):
    """Closing a POP3 session's store handle may close a user's index
    (the worker keeps a bounded set of open ones and closes the oldest),
    which checkpoints its WAL: writes and fsync. That runs on the
    delivery pool: the event-loop thread (tid == pid) writes only replies
    and log lines while sessions close. The victim's index gets a WAL of
    some size first (200 messages synced, 100 expunged); then fresh users
    log in and out until it is closed. On the old code the loop thread
    wrote the checkpoint itself (about 37 KB here)."""
    [worker] = srv.children()
    victim, password = new_user(srv)
    new = srv.maildir(victim) / "new"
    new.mkdir(parents=True, exist_ok=True)
    owner = srv.maildir(victim).parent.stat()
    for d in (srv.maildir(victim), new):
        os.chown(d, owner.st_uid, owner.st_gid)
    for k in range(200):
        f = new / f"1700000000.M{k}P1.offloop"
        f.write_bytes(b"Subject: offloop\r\n\r\n" + b"y" * 300 + b"\r\n")
        os.chown(f, owner.st_uid, owner.st_gid)
    wal = srv.maildir(victim) / "postel-index.sqlite-wal"
    closed = srv.log().count("event=disconnect ip=127.0.0.1 ")
    with raw(srv, implicit=True) as c:
        c.login(victim, password)
        for k in range(1, 101):
            assert c.cmd(f"DELE {k}").startswith(b"+OK")
        assert c.cmd("QUIT", timeout=scaled(30)).startswith(b"+OK")
    # parked with its WAL once the session is gone
    assert disconnect_delay(srv, "127.0.0.1", time.monotonic(), scaled(5),
                            count=closed + 1) is not None
    assert wal.exists() and wal.stat().st_size > 16384, "no WAL to checkpoint"
    writes = []
    for _ in range(64):              # the worker keeps 32 users open
        if not wal.exists():
            break
        user, pw = new_user(srv)
        with raw(srv, implicit=True) as c:
            c.login(user, pw)
            before = thread_wchar(worker, worker)
            assert c.cmd("QUIT").startswith(b"+OK")
            c.read_until_eof(timeout=scaled(5))
        time.sleep(0.2)              # the close is done
        writes.append(thread_wchar(worker, worker) - before)
    assert not wal.exists(), "the victim's index was never closed"
    assert max(writes) < 8192, \
        f"the event-loop thread wrote {max(writes)} octets while a session closed: {writes}"


BIG_DISTINCT, BIG_COUNT, BIG_BODY = 64, 4096, 16_000


def big_message(tok, i):
    """A message of about 350 KB: a base64 text body (SEARCH BODY decodes
    it), subjects and References that SORT and THREAD have to order."""
    text = "".join(f"{i:06d}-{k:06d} the quick brown fox jumps over the lazy dog \n"
                   for k in range(BIG_BODY // 64)).encode()
    b = base64.b64encode(text).decode()
    head = [f"From: a{i}@example.org", "To: b@example.org",
            f"Subject: {'Re: ' * (i % 3)}topic {i % 7} {tok}",
            f"Message-ID: <m{i}.{tok}@example.org>",
            f"Date: Mon, {1 + i % 28} Jan 2024 10:00:00 +0000", "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"]
    if i:
        head.append(f"References: <m{(i - 1) // 2}.{tok}@example.org>")
    return ("\r\n".join(head + [""] + [b[j:j + 76] for j in range(0, len(b), 76)])
            + "\r\n").encode()


@pytest.fixture(scope="module")
def big_mailbox(srv):
    """A user whose INBOX holds BIG_COUNT messages: BIG_DISTINCT appended
    in one MULTIAPPEND (RFC 3502), then COPY 1:* doubling it."""
    user, pw = new_user(srv)
    c = IMAPRaw(srv.imaps_port, tls=True)
    c.login(user, pw)
    msgs = [big_message(token(), i) for i in range(BIG_DISTINCT)]
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{{len(msgs[0])}}}\r\n".encode())
    for i, m in enumerate(msgs):
        line = c.read_line(timeout=scaled(30))
        assert line.startswith(b"+"), line
        more = f" {{{len(msgs[i + 1])}}}" if i + 1 < len(msgs) else ""
        c.send(m + more.encode() + b"\r\n")
    tagged, _ = c.read_tagged(tag, timeout=scaled(60))
    assert status_of(tagged) == "OK", tagged
    assert status_of(c.command("SELECT INBOX")[0]) == "OK"
    n = BIG_DISTINCT
    while n < BIG_COUNT:
        tagged, _ = c.command("COPY 1:* INBOX", timeout=scaled(120))
        assert status_of(tagged) == "OK", tagged
        n *= 2
        _, untagged = c.command("NOOP")
        assert f"* {n} EXISTS\r\n".encode() in untagged, untagged
    yield c
    c.close()


@pytest.mark.parametrize("command", [
    "SEARCH BODY absent-needle",
    "SORT (SUBJECT) UTF-8 NOT BODY absent-needle",
    "THREAD REFERENCES UTF-8 NOT BODY absent-needle"])
def test_imap_long_search_does_not_stall_others(srv, big_mailbox, command):
    """While the command scans every body on its user's lane, NOOPs of
    another user's session on the same worker (workers=1) come back at
    once, and more than once: the loop is free all along. The bound is
    a quarter of what the command takes (and at most 0.25 s)."""
    other_user, other_pw = new_user(srv)
    other = IMAPRaw(srv.imaps_port, tls=True)
    other.login(other_user, other_pw)
    assert status_of(other.command("SELECT INBOX")[0]) == "OK"
    done = {}

    def run():
        t0 = time.monotonic()
        done["reply"] = big_mailbox.command(command, timeout=scaled(120))
        done["took"] = time.monotonic() - t0

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.05)              # the command is on its lane now
    noops = []
    for _ in range(2000):
        if "took" in done:
            break
        r, dt = timed(lambda: other.command("NOOP", timeout=scaled(120)))
        assert status_of(r[0]) == "OK", r
        noops.append(dt)         # every one started while the command ran
        time.sleep(0.005)
    worker.join(timeout=scaled(120))
    tagged, untagged = done["reply"]
    assert status_of(tagged) == "OK", tagged
    verb = command.split()[0].encode()
    assert any(u.startswith(b"* " + verb) for u in untagged), untagged[:3]
    took = done["took"]
    during = noops
    print(f"command={command.split()[0]} took={took:.3f} noops={len(during)} "
          f"noop_max={max(during, default=0):.4f}")
    assert took > 0.4, f"{command} took only {took:.2f} s: too fast to show anything"
    assert len(during) >= 3, f"{len(during)} NOOPs answered during {took:.2f} s of {command}"
    bound = min(scaled(0.25), took / 4)
    assert max(during) < bound, \
        f"a NOOP took {max(during):.3f} s while {command} ran {took:.2f} s (bound {bound:.3f})"
    other.close()
