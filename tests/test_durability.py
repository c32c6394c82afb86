"""Catalogue 24: kill -9 during many concurrent transfers. Every message whose
250 the client saw is in the Maildir exactly once after a restart, no message
is there twice, and no delivered file is partial.

8 client threads send 25 messages each (unique Message-IDs, random sizes,
lines starting with dots) to port 25 while the test kill -9s the worker
processes several times, then the whole server once (master included), and
restarts it. A message whose reply was lost is never resent under the same
id, so "exactly once" is checked for every acknowledged id."""
import email
import email.policy
import random
import re
import signal
import ssl
import threading
import time

import pytest

from conftest import (ALICE, BOB, SMTPConn, ConnectionClosed, dot_stuff,
                      running_postel, scaled, token)

THREADS = 8
PER_THREAD = 25
SENDER = "durable@remote.example"


def durable_message(tok, rng):
    lines = [f"From: <{SENDER}>", f"To: <{ALICE}>", f"Subject: durability {tok}",
             f"Message-ID: <{tok}@durability.test>", "Date: Thu, 01 Jan 2026 12:00:00 +0000",
             ""]
    size = rng.choice([200, 2000, 20000, 120000, 400000])
    n = 0
    while n < size:
        kind = rng.random()
        if kind < 0.1:
            line = "." * rng.randint(1, 3) + "dotted"
        else:
            line = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ")
                           for _ in range(rng.randint(0, 76)))
        lines.append(line)
        n += len(line) + 2
    lines.append(f"end-of-message {tok}")
    return ("\r\n".join(lines) + "\r\n").encode()


class Sender(threading.Thread):
    def __init__(self, srv, n, seed, deadline):
        super().__init__(daemon=True)
        self.srv, self.n, self.deadline = srv, n, deadline
        self.rng = random.Random(seed)
        self.acked = {}        # tok -> (rcpt, bytes)
        self.unknown = set()   # sent, reply not seen
        self.errors = []
        self.attempts = 0

    def connect(self):
        for _ in range(400):
            if time.monotonic() > self.deadline:
                return None
            try:
                c = SMTPConn(self.srv.smtp_port, timeout=15)
                if c.greeting.code != 220:
                    c.close()
                    raise ConnectionClosed(repr(c.greeting))
                c.ehlo()
                return c
            except (OSError, TimeoutError, ConnectionClosed, AssertionError):
                time.sleep(0.1)
        return None

    def run(self):
        c = None
        done = 0
        while done < self.n and time.monotonic() < self.deadline:
            if c is None:
                c = self.connect()
                if c is None:
                    self.errors.append("could not connect before the deadline")
                    return
            tok = token()
            rcpt = ALICE if self.rng.random() < 0.7 else BOB
            msg = durable_message(tok, self.rng)
            self.attempts += 1
            try:
                r = c.cmd(f"MAIL FROM:<{SENDER}>")
                if r.code != 250:
                    raise ConnectionClosed(f"MAIL: {r!r}")
                r = c.cmd(f"RCPT TO:<{rcpt}>")
                if r.code != 250:
                    raise ConnectionClosed(f"RCPT: {r!r}")
                r = c.cmd("DATA")
                if r.code != 354:
                    raise ConnectionClosed(f"DATA: {r!r}")
                self.unknown.add(tok)
                wire = dot_stuff(msg) + b".\r\n"
                for i in range(0, len(wire), 32768):
                    c.send(wire[i:i + 32768])
                r = c.read_reply(timeout=30)
                if r.code == 250:
                    self.unknown.discard(tok)
                    self.acked[tok] = (rcpt, msg)
                    done += 1
                elif 400 <= r.code < 500 or r.code == 421:
                    self.unknown.discard(tok)  # refused: must not be stored
                    raise ConnectionClosed(f"end of data: {r!r}")
                else:
                    self.errors.append(f"unexpected reply to the message: {r!r}")
                    self.unknown.discard(tok)
                    raise ConnectionClosed(repr(r))
            except (OSError, TimeoutError, ConnectionClosed, ssl.SSLError, AssertionError):
                c.close()
                c = None
                time.sleep(0.05)
        if c is not None:
            try:
                c.quit()
            except Exception:
                c.close()


def test_kill9_during_transfers_loses_nothing():
    with running_postel(workers="2") as srv:
        srv.stable_workers = False
        deadline = time.monotonic() + scaled(150)
        senders = [Sender(srv, PER_THREAD, seed, deadline) for seed in range(THREADS)]
        for s in senders:
            s.start()
        rng = random.Random(1234)
        killed = 0

        def acked_now():
            return sum(len(s.acked) for s in senders)

        def wait_acked(n):
            while acked_now() < n and time.monotonic() < deadline and \
                    any(s.is_alive() for s in senders):
                time.sleep(0.01)
            # a moment later, so that transfers are in flight
            time.sleep(rng.uniform(0.0, 0.05))
            assert any(s.is_alive() for s in senders), "transfers ended before the kill"

        total = THREADS * PER_THREAD
        for frac in (0.1, 0.25, 0.4, 0.55):
            wait_acked(int(total * frac))
            pids = srv.kill_children()
            killed += len(pids)
        assert killed >= 4, "no worker processes found to kill"
        # the whole server, master included
        wait_acked(int(total * 0.65))
        srv.kill_all()
        time.sleep(0.3)
        srv.start()
        for frac in (0.8, 0.9):
            wait_acked(int(total * frac))
            killed += len(srv.kill_children())
        for s in senders:
            s.join(max(1.0, deadline - time.monotonic() + 5))
        assert not any(s.is_alive() for s in senders), "client threads still running"
        errors = [e for s in senders for e in s.errors]
        assert not errors, errors

        acked = {}
        for s in senders:
            acked.update(s.acked)
        unknown = set().union(*(s.unknown for s in senders))
        attempts = sum(s.attempts for s in senders)
        assert len(acked) == THREADS * PER_THREAD, \
            f"only {len(acked)} of {THREADS * PER_THREAD} messages acknowledged " \
            f"({attempts} attempts)"

        # a clean restart, then look at what is on disk
        srv.restart()
        seen = {}
        problems = []
        for user in (ALICE, BOB):
            for path, data in srv.messages(user):
                m = re.findall(rb"Subject: durability (T[0-9a-f]{32})\r\n", data)
                if len(m) != 1:
                    problems.append(f"{path}: {len(m)} subjects")
                    continue
                tok = m[0].decode()
                seen.setdefault(tok, []).append((user, path))
                parsed = email.message_from_bytes(data, policy=email.policy.compat32)
                if parsed["Message-ID"] != f"<{tok}@durability.test>":
                    problems.append(f"{path}: does not parse as the message sent")
                if not data.endswith(f"end-of-message {tok}\r\n".encode()):
                    problems.append(f"{path}: partial message ({len(data)} bytes)")
                if not data.startswith(f"Return-Path: <{SENDER}>\r\n".encode()):
                    problems.append(f"{path}: does not start with Return-Path")
                if tok in acked and not data.endswith(acked[tok][1]):
                    problems.append(f"{path}: content differs from what was sent")
        for tok, where in seen.items():
            if len(where) > 1:
                problems.append(f"{tok} stored {len(where)} times: {where}")
            if tok not in acked and tok not in unknown:
                problems.append(f"{tok} stored although the server refused it")
        for tok, (rcpt, _) in acked.items():
            if tok not in seen:
                problems.append(f"{tok} acknowledged with 250 but not stored")
            elif seen[tok][0][0] != rcpt:
                problems.append(f"{tok} stored for {seen[tok][0][0]}, sent to {rcpt}")
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:50])
        lost_unknown = len(unknown - set(seen))
        print(f"acked={len(acked)} unknown={len(unknown)} (stored "
              f"{len(unknown) - lost_unknown}) attempts={attempts} killed={killed}")

        # and the server works normally afterwards
        with srv.smtp() as c:
            c.ehlo()
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
            assert c.data(durable_message(token(), rng)).code == 250
            c.quit()


def test_sigterm_drains(postel_factory):
    """SIGTERM: idle sessions get 421 4.3.2, new connections are no longer
    served, a transaction in flight finishes and is delivered, exit 0."""
    srv = postel_factory()
    idle = srv.smtp()
    idle.ehlo()
    busy = srv.smtp()
    busy.ehlo()
    assert busy.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert busy.cmd(f"RCPT TO:<{ALICE}>").code == 250
    assert busy.cmd("DATA").code == 354
    tok = token()
    msg = durable_message(tok, random.Random(5))
    wire = dot_stuff(msg) + b".\r\n"
    busy.send(wire[:len(wire) // 2])
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    try:
        data = idle.read_until_eof(10)
        assert data.startswith(b"421 4.3.2"), data
        # stop accepting: within a moment, no new session is greeted
        deadline = time.monotonic() + scaled(3)
        while True:
            try:
                with SMTPConn(srv.smtp_port, greeting=False, timeout=2) as c:
                    got = c.read_available(0.5)
            except OSError:
                got = b""
            if not got.startswith(b"220"):
                break
            assert time.monotonic() < deadline, "still greeting new clients after SIGTERM"
            time.sleep(0.1)
        busy.send(wire[len(wire) // 2:])
        r = busy.read_reply()
        assert r.code == 250, r
        try:
            rest = busy.read_until_eof(10)
        except TimeoutError:
            pytest.fail("draining: after the transaction in flight ended (250), the "
                        "session was neither sent 421 nor closed within 10 s; the "
                        "server waits for the client to act before it can exit")
        assert rest == b"" or rest.startswith(b"421"), rest
        rc = srv.proc.wait(timeout=scaled(10))
        assert rc == 0, f"exit status {rc} after SIGTERM"
    finally:
        idle.close()
        busy.close()
        # reaped here; the fixture only checks the log afterwards
        try:
            srv.proc.wait(timeout=scaled(10))
        except Exception:
            srv.kill_all()
        srv.proc = None
    found = srv.find(ALICE, tok)
    assert len(found) == 1 and found[0].endswith(msg)


def test_sighup_keeps_connections(postel_factory):
    srv = postel_factory()
    srv.stable_workers = False   # a reload may replace the workers
    tok = token()
    msg = durable_message(tok, random.Random(6))
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(scaled(0.5))
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        # the connection itself survives the reload, not just the transaction
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert r.code == 250, f"SIGHUP dropped the session after its transaction: {r!r}"
        assert c.cmd("RSET").code == 250
        c.quit()
    assert srv.proc.poll() is None, "SIGHUP stopped the server"
    with srv.submissions() as c:
        c.ehlo()
        assert c.auth_plain(BOB, "bob-Pa55word").code == 235
        c.quit()
    assert len(srv.find(ALICE, tok)) == 1
