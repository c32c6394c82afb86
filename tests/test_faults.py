"""Catalogue 25 and 26, and the master's fault handling: disk full, a
certificate reload on SIGHUP, corrupt index and queue files at start-up, a
worker killed with -9.

Disk full: the data directory is a small tmpfs that a filler file makes
full; the server spools to DATA_DIR/spool, writes Maildir copies and queue
files on the same filesystem. A message that does not fit gets 452/451 at
the end of DATA, leaves no partial file anywhere, and the server keeps
serving; once the filler is gone the same message is accepted byte-exact.
Two levels of "full" are tried: too little space for the spool file itself,
and enough for the spool file but not for the spool file plus its delivered
copy (the failure then happens during delivery, after the whole message was
received). For the outbound queue a third level lets the local copy for
a local recipient fit but not the queue copy: both must be dropped.

Corrupt index: the file is replaced by garbage while the WAL a stopped
server leaves behind is still there; the server must set it aside (and,
as store_index.h promises, unchanged with its WAL alongside) and rebuild.

Needs root (mount, the server's privilege drop); loopback only; every wait
is bounded."""
import contextlib
import errno
import os
import pathlib
import re
import shutil
import signal
import ssl
import subprocess
import time

import pytest

from conftest import (ALICE, BOB, ConnectionClosed, Postel, SMTPConn,
                      check_delivered, finish, make_message, pid_alive,
                      scaled, token)

SENDER = "faults@remote.example"
MSG_SIZE = 400 * 1024           # the message that does not fit
TMPFS_SIZE = "3m"
# free space left by the filler: (too little for the spool file,
# enough for the spool file but not for spool + delivered copy)
LEAVE_SPOOL = 96 * 1024
LEAVE_DELIVERY = 640 * 1024
# enough for the spool file and one delivered copy, not for a second copy
LEAVE_SECOND_COPY = 1000 * 1024
# the log event telling where the write failed: proves each case reached
# the stage it is meant to test
STAGE_EVENT = {
    "spool": r"event=spool_write_failed",
    "delivery": r"event=delivery_failed error=\S*writing mail file",
    "queue": r"event=delivery_failed error=\S*writing queue file",
    "index": r"event=delivery_failed error=\S*index (commit|message add)",
}


# --------------------------------------------------------------------------
# helpers


def big_message(tok, size=MSG_SIZE, to=ALICE, sender=SENDER):
    """A CRLF message of about size bytes, lines with leading dots included."""
    body, n, i = [], 0, 0
    while n < size:
        line = (".dotted line %06d " % i if i % 17 == 0 else "line %06d " % i) + \
            "abcdefghijklmnopqrstuvwxyz0123456789" * 2
        body.append(line)
        n += len(line) + 2
        i += 1
    body.append("end " + tok)
    return make_message(tok, sender=sender, to=to, subject="faults", body=body)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(datadir, leave):
    """(Re)write DATADIR/filler so that about `leave` bytes stay free.
    Real bytes, not a sparse file: tmpfs only counts written pages."""
    filler = pathlib.Path(datadir) / "filler"
    with contextlib.suppress(FileNotFoundError):
        filler.unlink()
    want = free_bytes(datadir) - leave
    assert want > 0, f"only {free_bytes(datadir)} bytes free before filling"
    chunk = b"\0" * 65536
    with open(filler, "wb") as f:
        left = want
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
        f.flush()
        os.fsync(f.fileno())
        # the server may still be settling its own files (an SQLite WAL
        # checkpointed and truncated frees pages): adjust until it holds
        for _ in range(20):
            got = free_bytes(datadir)
            if abs(got - leave) <= 64 * 1024:
                break
            if got > leave:
                f.write(b"\0" * (got - leave))
            else:
                f.truncate(max(0, f.tell() - (leave - got)))
                f.seek(0, os.SEEK_END)
            f.flush()
            os.fsync(f.fileno())
            time.sleep(0.05)
    got = free_bytes(datadir)
    assert abs(got - leave) <= 64 * 1024, f"wanted {leave} bytes free, {got} are"
    return filler


def unfill(datadir):
    with contextlib.suppress(FileNotFoundError):
        (pathlib.Path(datadir) / "filler").unlink()


@contextlib.contextmanager
def postel_on_tmpfs(size=TMPFS_SIZE, **overrides):
    """A started server whose data directory is a fresh tmpfs of `size`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    srv = Postel({k: str(v) for k, v in overrides.items()})
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                        "tmpfs", str(srv.datadir)], capture_output=True, timeout=20)
    if p.returncode != 0:
        shutil.rmtree(srv.datadir, ignore_errors=True)
        shutil.rmtree(srv.logdir, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.decode(errors='replace').strip()}")
    try:
        srv.launch()
        try:
            yield srv
        finally:
            unfill(srv.datadir)
            finish(srv)
    finally:
        if srv.proc is not None:
            srv.kill_all()
        subprocess.run(["umount", str(srv.datadir)], capture_output=True, timeout=20)
        with contextlib.suppress(OSError):
            srv.datadir.rmdir()


def maildir_files(srv, address):
    """Every file in the user's Maildir tmp/, new/ and cur/."""
    base = srv.maildir(address)
    out = []
    for sub in ("tmp", "new", "cur"):
        d = base / sub
        if d.is_dir():
            out.extend(sorted(d.iterdir()))
    return out


def queue_files(srv):
    """Files in queue/tmp, queue/msg and queue/env."""
    out = []
    for sub in ("tmp", "msg", "env"):
        d = srv.datadir / "queue" / sub
        if d.is_dir():
            out.extend(sorted(d.iterdir()))
    return out


def send_raw(c, sender, rcpts, msg):
    """MAIL, RCPT..., DATA on an open session; the reply to the message.
    Sends in pieces so a server that stops reading is noticed (timeout)."""
    r = c.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 250, r
    for rcpt in rcpts:
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, r
    r = c.cmd("DATA")
    assert r.code == 354, r
    wire = re.sub(rb"(?m)^\.", b"..", msg) + b".\r\n"
    for i in range(0, len(wire), 32768):
        c.send(wire[i:i + 32768])
    return c.read_reply(timeout=30)


def assert_still_serving(srv, c=None):
    if c is not None:
        r = c.cmd("NOOP")
        assert r.code == 250, f"NOOP after the refused message: {r!r}"
    with srv.smtp() as c2:
        assert c2.greeting.code == 220, c2.greeting
        c2.ehlo()
        assert c2.cmd("NOOP").code == 250
        c2.quit()


def assert_stage(srv, log_before, stage):
    """The refusal came from the intended stage (else the case tests
    something else than it says: the free space is off)."""
    log = srv.log()[log_before:]
    assert re.search(STAGE_EVENT[stage], log), \
        f"expected the {stage} write to fail ({STAGE_EVENT[stage]}); log:\n{log}"


def assert_temp_storage_failure(r, what):
    """TESTING.md 25: a full disk answers 452 4.3.1 wherever it is met."""
    assert 400 <= r.code < 500, f"{what}: expected 452 4.3.1, got {r!r}"
    assert (r.code, r.enhanced) == (452, "4.3.1"), f"{what}: expected 452 4.3.1, got {r!r}"


def accepted_once_space_returns(srv, msg, tok):
    """Space returns: the very same message is accepted and stored."""
    unfill(srv.datadir)
    with srv.smtp() as c:
        c.ehlo()
        r = send_raw(c, SENDER, [ALICE], msg)
        assert r.code == 250, f"after the filler was removed: {r!r}\n" + srv.log_tail()
        c.quit()
    check_delivered(srv, ALICE, msg, SENDER, tok=tok)


# --------------------------------------------------------------------------
# 1. disk full


def test_disk_full_local_delivery():
    with postel_on_tmpfs() as srv:
        tok = token()
        msg = big_message(tok)
        assert len(msg) > LEAVE_SPOOL and 2 * len(msg) > LEAVE_DELIVERY > len(msg)
        base = srv.maildir(ALICE)
        before = maildir_files(srv, ALICE)
        assert before == [], f"alice's Maildir is not empty at the start: {before}"

        for stage, leave in (("spool", LEAVE_SPOOL), ("delivery", LEAVE_DELIVERY)):
            fill(srv.datadir, leave)
            log_before = len(srv.log())
            with srv.smtp() as c:
                c.ehlo()
                r = send_raw(c, SENDER, [ALICE], msg)
                log = srv.log()[log_before:]
                assert_temp_storage_failure(
                    r, f"{stage} stage, {free_bytes(srv.datadir)} bytes free; log:\n{log}")
                left = maildir_files(srv, ALICE)
                assert left == [], f"{stage}: files left in {base}: {left}"
                assert srv.all_files_containing(tok) == [], \
                    f"{stage}: the refused message is stored: {srv.all_files_containing(tok)}"
                assert_stage(srv, log_before, stage)
                # the session and the server keep going
                assert_still_serving(srv, c)
                c.quit()
            assert srv.proc.poll() is None, "server died on disk full"

        accepted_once_space_returns(srv, msg, tok)
        assert srv.tmp_files(ALICE) == []


def test_disk_full_outbound_queue():
    with postel_on_tmpfs() as srv:
        tok = token()
        rcpt = f"far-{tok[1:9]}@remote.example"
        msg = big_message(tok, to=rcpt, sender=ALICE)
        # the last case: the local copy for bob fits, the queue copy does
        # not; both must go (all copies or none)
        for stage, leave, rcpts in (("spool", LEAVE_SPOOL, [rcpt]),
                                    ("queue", LEAVE_DELIVERY, [rcpt]),
                                    ("queue", LEAVE_SECOND_COPY, [BOB, rcpt])):
            fill(srv.datadir, leave)
            log_before = len(srv.log())
            with srv.submission_authed(ALICE) as c:
                r = send_raw(c, ALICE, rcpts, msg)
                assert_temp_storage_failure(
                    r, f"{stage} stage, rcpts {rcpts}; log:\n{srv.log()[log_before:]}")
                assert_stage(srv, log_before, stage)
                assert_still_serving(srv, c)
                c.quit()
            _, out, _ = srv.cli("queue", "list")
            assert rcpt not in out and out.strip() == "queue is empty", \
                f"{stage}: refused message queued:\n{out}"
            assert queue_files(srv) == [], f"{stage}: left in the queue: {queue_files(srv)}"
            assert maildir_files(srv, BOB) == [], \
                f"{stage}: local copy kept although the message was refused"
            assert srv.all_files_containing(tok) == [], srv.all_files_containing(tok)

        unfill(srv.datadir)
        with srv.submission_authed(ALICE) as c:
            r = send_raw(c, ALICE, [rcpt], msg)
            assert r.code == 250, f"after the filler was removed: {r!r}\n" + srv.log_tail()
            c.quit()
        _, out, _ = srv.cli("queue", "list")
        assert rcpt in out, out
        assert len([line for line in out.splitlines() if rcpt in line]) == 1, out
        queued = [p for p in srv.all_files_containing(tok) if "/queue/msg/" in str(p)]
        assert len(queued) == 1, srv.all_files_containing(tok)
        assert queued[0].read_bytes().endswith(msg)


def fill_to_the_page(datadir, leave_pages):
    """Write DATADIR/filler until the filesystem is full, then give back
    exactly leave_pages pages: finer than fill(), for a failure that must
    come after the Maildir file was written (one page) but before the index
    commit could grow its WAL. Bounded by the tmpfs size."""
    filler = pathlib.Path(datadir) / "filler"
    with contextlib.suppress(FileNotFoundError):
        filler.unlink()
    page = os.sysconf("SC_PAGE_SIZE")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size = 0
        for chunk in (b"\0" * 65536, b"\0" * page):
            for _ in range(100000):
                try:
                    size += os.write(fd, chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
        os.ftruncate(fd, size - leave_pages * page)
        os.fsync(fd)
    finally:
        os.close(fd)
    got = free_bytes(datadir)
    assert got == leave_pages * page, f"wanted {leave_pages} pages free, {got} bytes are"


def test_disk_full_index_commit():
    """The Maildir file fits, the index commit does not (SQLite's WAL cannot
    grow): 452 4.3.1 like a failed file write (it was 451), no message left
    behind, and the same message is accepted once space returns."""
    with postel_on_tmpfs() as srv:
        deliver(srv, token())            # the index and its WAL exist
        tok = token()
        msg = make_message(tok, sender=SENDER, to=ALICE)
        before = maildir_files(srv, ALICE)
        fill_to_the_page(srv.datadir, 1)
        log_before = len(srv.log())
        with srv.smtp() as c:
            c.ehlo()
            r = send_raw(c, SENDER, [ALICE], msg)
            assert_temp_storage_failure(r, "index commit; log:\n" + srv.log()[log_before:])
            assert_stage(srv, log_before, "index")
            assert srv.all_files_containing(tok) == [], srv.all_files_containing(tok)
            assert maildir_files(srv, ALICE) == before
            assert_still_serving(srv, c)
            c.quit()
        accepted_once_space_returns(srv, msg, tok)


# --------------------------------------------------------------------------
# 2. certificates reload on SIGHUP


def make_cert(cn, key, cert):
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", f"/CN={cn}", "-days", "2",
                        "-keyout", str(key), "-out", str(cert)],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return ssl.PEM_cert_to_DER_cert(pathlib.Path(cert).read_text())


def peer_der(srv, port=None):
    with SMTPConn(port or srv.submissions_port, tls=True, timeout=5) as c:
        assert c.greeting.code == 220, c.greeting
        return c.sock.getpeercert(binary_form=True)


def starttls_peer_der(srv):
    with srv.submission(timeout=5) as c:
        c.ehlo()
        c.starttls()
        return c.sock.getpeercert(binary_form=True)


def test_certificate_reload_on_sighup(postel_factory, tmp_path):
    key, cert = tmp_path / "server.key", tmp_path / "server.crt"
    der_one = make_cert("one.example", key, cert)
    srv = postel_factory(tls_cert=cert, tls_key=key)
    srv.stable_workers = False        # a reload replaces the workers
    assert peer_der(srv) == der_one, "465 does not present the configured certificate"
    assert starttls_peer_der(srv) == der_one

    old = srv.submissions(timeout=5)
    try:
        old.ehlo()
        # replace both files (atomically each), then reload
        der_two = make_cert("two.example", tmp_path / "new.key", tmp_path / "new.crt")
        assert der_two != der_one
        os.replace(tmp_path / "new.key", key)
        os.replace(tmp_path / "new.crt", cert)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + scaled(10)
        got = None
        while time.monotonic() < deadline:
            try:
                got = peer_der(srv)
            except (OSError, TimeoutError, ConnectionClosed, ssl.SSLError):
                got = None
            if got == der_two:
                break
            time.sleep(0.1)
        assert got == der_two, (
            "465 still presents the old certificate 10 s after SIGHUP "
            f"({'one.example' if got == der_one else got!r:.40})\n" + srv.log_tail())
        assert starttls_peer_der(srv) == der_two, "587 STARTTLS presents the old certificate"
        # the session opened before the reload keeps its connection
        assert old.sock.getpeercert(binary_form=True) == der_one
        r = old.cmd("NOOP")
        assert r.code == 250, f"old session after the reload: {r!r}"
        assert old.auth_plain(BOB, srv.users[BOB]).code == 235
        old.quit()
    finally:
        old.close()
    assert srv.wait_for_log(r"event=reload\b", 2), "reload not logged"
    assert srv.proc.poll() is None


# --------------------------------------------------------------------------
# 3. corrupt files at start-up


def deliver(srv, tok, to=ALICE):
    msg = make_message(tok, sender=SENDER, to=to)
    with srv.smtp() as c:
        c.ehlo()
        r = send_raw(c, SENDER, [to], msg)
        assert r.code == 250, r
        c.quit()
    return msg


def stop_cleanly(srv):
    problems = srv.stop()
    assert not problems, "\n".join(problems) + "\n" + srv.log_tail()


def test_corrupt_index_set_aside(postel_factory):
    srv = postel_factory()
    toks = [token(), token()]
    msgs = [deliver(srv, t) for t in toks]
    stop_cleanly(srv)
    index = srv.maildir(ALICE) / "postel-index.sqlite"
    assert index.is_file(), f"no index at {index}: {sorted(srv.maildir(ALICE).iterdir())}"
    st = index.stat()
    garbage = (b"this is not an SQLite database \xff\x00\x13" * 4096)[:max(st.st_size, 8192)]
    index.write_bytes(garbage)
    os.chown(index, st.st_uid, st.st_gid)

    srv.start()
    toks.append(token())
    msgs.append(deliver(srv, toks[-1]))
    line = srv.wait_for_log(r"event=index_(corrupt|set_aside)", 5)
    assert line, "corrupt index not reported in the log:\n" + srv.log_tail()
    aside = sorted(srv.maildir(ALICE).glob("postel-index.sqlite.corrupt-*"))
    aside = [p for p in aside if not p.name.endswith("-wal")]
    assert len(aside) == 1, sorted(srv.maildir(ALICE).iterdir())
    assert aside[0].read_bytes()[:4096] == garbage[:4096], \
        "the set-aside file is not the damaged one"
    assert index.is_file(), "no new index"
    for tok, msg in zip(toks, msgs):
        check_delivered(srv, ALICE, msg, SENDER, tok=tok)
    assert len(srv.messages(ALICE)) == 3
    # the rebuilt index keeps working
    toks.append(token())
    msgs.append(deliver(srv, toks[-1]))
    assert len(srv.messages(ALICE)) == 4


def test_corrupt_index_set_aside_as_found(postel_factory):
    """store_index.h: a damaged index is renamed to <path>.corrupt-<time>
    "(its WAL alongside)", for a human to look at. The WAL a stopped
    server leaves behind must not be checkpointed into the damaged file
    (which rewrites its pages) nor deleted before the file is set aside."""
    srv = postel_factory()
    deliver(srv, token())
    stop_cleanly(srv)
    index = srv.maildir(ALICE) / "postel-index.sqlite"
    wal = index.with_name(index.name + "-wal")
    st = index.stat()
    garbage = (b"damaged index \xfe\x01" * 8192)[:st.st_size]
    index.write_bytes(garbage)
    wal_bytes = wal.read_bytes() if wal.exists() else None

    srv.start()
    tok = token()
    msg = deliver(srv, tok)
    assert srv.wait_for_log(r"event=index_set_aside", 5), srv.log_tail()
    check_delivered(srv, ALICE, msg, SENDER, tok=tok)
    aside = [p for p in srv.maildir(ALICE).glob("postel-index.sqlite.corrupt-*")
             if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1, sorted(p.name for p in srv.maildir(ALICE).iterdir())
    data = aside[0].read_bytes()
    diff = next((i for i in range(min(len(data), len(garbage)))
                 if data[i] != garbage[i]), None)
    assert data == garbage, (
        f"the damaged index was modified before it was set aside: {len(garbage)} "
        f"bytes written, {len(data)} set aside, first difference at offset {diff} "
        f"(WAL present before start: {wal_bytes is not None})")
    if wal_bytes is not None:
        aside_wal = aside[0].with_name(aside[0].name + "-wal")
        assert aside_wal.is_file(), "the damaged index's WAL was not set aside with it"
        assert aside_wal.read_bytes() == wal_bytes


def fake_queue_id(seq):
    """A well-formed queue id (see queue_id_generate) whose writer pid
    (0xffffff, above any pid_max) cannot be running."""
    secs = int(time.time()) - 120
    return "%010x%05x%06x%04x" % (secs, 4242, 0xffffff, seq)


def test_corrupt_queue_files_set_aside(postel_factory):
    srv = postel_factory()
    # one real queued entry, which must survive
    tok = token()
    rcpt = f"keep-{tok[1:9]}@remote.example"
    with srv.submission_authed(ALICE) as c:
        assert send_raw(c, ALICE, [rcpt], make_message(tok, to=rcpt)).code == 250
        c.quit()
    _, out, _ = srv.cli("queue", "list")
    assert rcpt in out, out
    stop_cleanly(srv)

    qdir = srv.datadir / "queue"
    owner = qdir.stat()
    bad_env = fake_queue_id(1)          # garbage envelope, no message
    orphan = fake_queue_id(2)           # message without envelope
    bad_pair = fake_queue_id(3)         # garbage envelope with its message
    files = {
        qdir / "env" / bad_env: b"\x00\x01garbage envelope\xff\r\nnot: parsable\n" * 3,
        qdir / "msg" / orphan: b"Subject: orphan\r\n\r\nan orphaned message body\r\n",
        qdir / "env" / bad_pair: b"version=999\nsender=<<<\nrcpt\n\x00",
        qdir / "msg" / bad_pair: b"Subject: pair\r\n\r\nbody of a broken pair\r\n",
    }
    for path, data in files.items():
        path.write_bytes(data)
        os.chmod(path, 0o600)
        os.chown(path, owner.st_uid, owner.st_gid)

    srv.start()
    corrupt = qdir / "corrupt"
    expect = {corrupt / f"{bad_env}.env": files[qdir / "env" / bad_env],
              corrupt / f"{orphan}.msg": files[qdir / "msg" / orphan],
              corrupt / f"{bad_pair}.env": files[qdir / "env" / bad_pair],
              corrupt / f"{bad_pair}.msg": files[qdir / "msg" / bad_pair]}
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline and not all(p.exists() for p in expect):
        time.sleep(0.1)
    present = sorted(p.name for p in corrupt.iterdir()) if corrupt.is_dir() else None
    for path, data in expect.items():
        assert path.is_file(), f"{path.name} not set aside; corrupt/ holds {present}\n" \
            + srv.log_tail()
        assert path.read_bytes() == data, f"{path} changed while being set aside"
    for path in files:
        assert not path.exists(), f"{path} still in the live queue"
    for qid in (bad_env, orphan, bad_pair):
        assert srv.wait_for_log(rf"\b{qid}\b", 2), \
            f"{qid} set aside without a log line:\n" + srv.log_tail()
    assert srv.proc.poll() is None

    rc, out, err = srv.cli("queue", "list")
    assert rcpt in out, f"the good entry was lost:\n{out}{err}"
    for qid in (bad_env, orphan, bad_pair):
        assert qid not in out, out
    # and the server still queues and delivers
    deliver(srv, token())
    with srv.submission_authed(ALICE) as c:
        tok2 = token()
        rcpt2 = f"next-{tok2[1:9]}@remote.example"
        assert send_raw(c, ALICE, [rcpt2], make_message(tok2, to=rcpt2)).code == 250
        c.quit()
    _, out, _ = srv.cli("queue", "list")
    assert rcpt in out and rcpt2 in out, out


# --------------------------------------------------------------------------
# 4. a worker killed with -9 is replaced


def test_worker_kill9_restarted(postel_factory):
    srv = postel_factory()
    srv.stable_workers = False
    workers = srv.children()
    assert len(workers) >= 2, f"expected 2 workers, children: {workers}"
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    line = srv.wait_for_log(rf"event=worker_crashed pid={victim}\b", 5)
    assert line, f"worker {victim} killed, no worker_crashed in the log:\n" + srv.log_tail()
    assert "signal=9" in line, line
    deadline = time.monotonic() + scaled(5)
    now = []
    while time.monotonic() < deadline:
        now = srv.children()
        if len(now) == len(workers) and victim not in now:
            break
        time.sleep(0.1)
    assert victim not in now and len(now) == len(workers), \
        f"workers before {workers}, after {now}: no replacement\n" + srv.log_tail()
    assert not pid_alive(victim)
    assert srv.proc.poll() is None, "the master died"
    # both workers serve: enough connections to reach each
    for _ in range(6):
        with srv.smtp() as c:
            assert c.greeting.code == 220
            c.ehlo()
            c.quit()
    tok = token()
    msg = deliver(srv, tok, to=BOB)
    check_delivered(srv, BOB, msg, SENDER, tok=tok)
    assert srv.children() == now, "workers changed again after the restart"
