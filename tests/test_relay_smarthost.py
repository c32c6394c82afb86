"""Issue 10 item 5: relayhost, all outbound mail through a smarthost.

On loopback only. Server A (the sender) has relay on and
relayhost = [smtp.relay.example]:PORT; a dnslib zone server answers
smtp.relay.example with 127.0.0.1 and has no MX records at all (no MX
lookup may be needed). Server B is a second `postel serve` whose
certificate (self-signed, smtp.relay.example) is A's relayhost_ca_file;
A logs in to B's submission port as alice@example.org (B's account) and
B delivers to carol@remote.example, its local user. Checked: the
message arrives byte for byte over STARTTLS (587 style) and over
implicit TLS (465 style); a wrong password defers and loses nothing (the
right one after a reload delivers it); a 550 to RCPT bounces as usual; a
relayhost without STARTTLS never sees AUTH or MAIL; a bad password file
is explained by `config check` and stops `serve`."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import ALICE, USERS, Postel, make_message, scaled, token
from test_queue_cli import queue_remote
from test_relay_runner import dsn_status, wait_dsns

pytest.importorskip("dnslib")
from probe_dns_server import ZoneServer  # noqa: E402

RELAY_NAME = "smtp.relay.example"
CAROL = "carol@remote.example"
CAROL_PW = "carol-Relay-pw 9"
ZONE = f"""
{RELAY_NAME}.  60 IN A 127.0.0.1
"""


@pytest.fixture
def dns():
    z = ZoneServer(ZONE)
    yield z
    z.close()


def smarthost_b(postel_factory):
    """Server B: the provider, with remote.example and carol on it."""
    b = postel_factory(hostname=RELAY_NAME)
    b.cli("domain", "add", "remote.example")
    b.add_user(CAROL, CAROL_PW)
    return b


def password_file(tmp_path, password, mode=0o640, name="relay.pw"):
    p = tmp_path / name
    p.write_text(password + "\n")
    os.chmod(p, mode)
    return p


def sender_a(postel_factory, dns, relayhost, pwfile, ca, **extra):
    o = {"relay": "yes", "relayhost": relayhost, "relayhost_user": ALICE,
         "relayhost_password_file": str(pwfile), "relayhost_ca_file": str(ca),
         "dns_resolver": dns.address, "dns_trust_anchor": "none",
         "queue_retry_min": "2", "queue_retry_max": "4"}
    o.update(extra)
    return postel_factory(**o)


def wait_for(pred, timeout):
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    return pred()


def assert_arrived(a, b, qid, tok, msg):
    got = wait_for(lambda: b.find(CAROL, tok), 15)
    assert len(got) == 1, a.log_tail(30) + "\n--- B:\n" + b.log_tail(30)
    # B's and A's trace headers, then the message exactly as submitted
    assert got[0].endswith(msg), got[0]
    trace = got[0][:-len(msg)]
    # B took it from A authenticated and encrypted (RFC 3848 ESMTPSA)
    assert re.search(rb"by smtp\.relay\.example \(Postel\) with ESMTPSA", trace), trace
    assert trace.count(b"Received: ") == 2, trace
    assert wait_for(lambda: a.wait_for_log(rf"event=relay_done queue_id={qid}", 1), 10)
    assert a.cli("queue", "list")[1].count(qid) == 0


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
def test_relay_through_smarthost_with_auth(dns, postel_factory, tmp_path, implicit):
    b = smarthost_b(postel_factory)
    port = b.submissions_port if implicit else b.submission_port
    pw = password_file(tmp_path, USERS[ALICE])
    a = sender_a(postel_factory, dns, f"[{RELAY_NAME}]:{port}", pw, b.cert_path,
                 relayhost_implicit_tls="yes" if implicit else "no")
    tok = token()
    qid = queue_remote(a, tok, [CAROL])
    msg = make_message(tok, sender=ALICE, to=CAROL)
    assert_arrived(a, b, qid, tok, msg)
    line = a.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert line and f'mx="{RELAY_NAME}"' in line and "tls=yes" in line \
        and "codes=250" in line, line
    assert a.wait_for_log(r"event=relayhost host=\S+ port=%d tls=%s auth=yes" %
                          (port, "implicit" if implicit else "starttls"))
    # B saw alice log in over TLS; the password is in no log line
    assert re.search(r"event=auth_ok .*alice@example\.org|user=\"?alice@example\.org",
                     b.log()), b.log_tail(30)
    assert USERS[ALICE] not in a.log() and USERS[ALICE] not in b.log()


def test_wrong_password_defers_and_loses_nothing(dns, postel_factory, tmp_path):
    b = smarthost_b(postel_factory)
    pw = password_file(tmp_path, "not-the-password")
    a = sender_a(postel_factory, dns, f"[{RELAY_NAME}]:{b.submission_port}", pw,
                 b.cert_path, queue_retry_min="3", queue_retry_max="3")
    tok = token()
    qid = queue_remote(a, tok, [CAROL])
    line = a.wait_for_log(rf"event=relayhost_auth_failed queue_id={qid} ", timeout=20)
    assert line and "535" in line and "relayhost_password_file" in line, a.log_tail(30)
    attempt = a.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert attempt and "codes=451" in attempt, attempt
    # deferred: still queued, no bounce to alice, nothing at B
    time.sleep(0.5)
    assert a.cli("queue", "list")[1].count(qid) == 1
    assert not [d for _, d in a.messages(ALICE) if qid.encode() in d]
    assert not b.find(CAROL, tok)
    # the right password and a reload (the runner keeps the password it
    # read at start): the same entry goes out at its next retry
    a.stable_workers = False  # SIGHUP replaces the children
    # first a file others may read: the reload is refused, naming it
    os.chmod(pw, 0o644)
    os.kill(a.pid, signal.SIGHUP)
    line = a.wait_for_log(r"event=reload_failed .*relayhost_password_file", timeout=10)
    assert line and str(pw) in line and "0644" in line, a.log_tail(20)
    os.chmod(pw, 0o640)
    pw.write_text(USERS[ALICE] + "\n")
    os.kill(a.pid, signal.SIGHUP)
    assert_arrived(a, b, qid, tok, make_message(tok, sender=ALICE, to=CAROL))


def test_unresolvable_smarthost_defers_naming_it(dns, postel_factory, tmp_path):
    """The relayhost's name has no address: deferred, and the reason names
    the relayhost (there is no MX host to blame)."""
    b = smarthost_b(postel_factory)  # only for its certificate
    pw = password_file(tmp_path, USERS[ALICE])
    a = sender_a(postel_factory, dns, "[gone.relay.example]:587", pw, b.cert_path,
                 queue_retry_min="600", queue_retry_max="600")
    tok = token()
    qid = queue_remote(a, tok, [CAROL])
    line = a.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=451", timeout=15)
    assert line and "relayhost could not be reached" in line, a.log_tail(30)
    out = a.cli("queue", "show", qid)[1]
    assert "relayhost could not be reached" in out and "state: deferred" in out, out
    assert not [d for _, d in a.messages(ALICE) if qid.encode() in d]


def test_rcpt_refused_by_smarthost_bounces(dns, postel_factory, tmp_path):
    b = smarthost_b(postel_factory)
    pw = password_file(tmp_path, USERS[ALICE])
    a = sender_a(postel_factory, dns, f"[{RELAY_NAME}]:{b.submission_port}", pw,
                 b.cert_path)
    tok = token()
    nobody = f"nobody{tok[1:9]}@remote.example"
    qid = queue_remote(a, tok, [nobody])
    got = wait_dsns(a, qid, timeout=20)
    assert len(got) == 1, a.log_tail(30)
    action, status = dsn_status(got[0])[nobody]
    assert action == "failed" and status.startswith("5."), (action, status)
    assert "relayhost_auth_failed" not in a.log()


class PlainServer:
    """An SMTP server without STARTTLS that offers AUTH anyway, and keeps
    every line it was sent."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.sessions = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.sessions += 1
            with conn:
                self.session(conn)

    def session(self, conn):
        conn.settimeout(5)
        f = conn.makefile("rb")
        conn.sendall(b"220 plain.example ESMTP\r\n")
        for _ in range(50):
            try:
                line = f.readline(1024)
            except OSError:
                return
            if not line:
                return
            self.lines.append(line)
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-plain.example\r\n250-AUTH PLAIN LOGIN\r\n"
                             b"250 8BITMIME\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_smarthost_without_starttls_gets_no_credentials(dns, postel_factory, tmp_path):
    plain = PlainServer()
    try:
        pw = password_file(tmp_path, "secret-never-sent")
        # an address literal: no DNS at all
        a = sender_a(postel_factory, dns, f"[127.0.0.1]:{plain.port}", pw, "",
                     queue_retry_min="600", queue_retry_max="600")
        tok = token()
        qid = queue_remote(a, tok, [CAROL])
        line = a.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=20)
        assert line and "codes=451" in line and "tls=no" in line, a.log_tail(30)
        assert "STARTTLS required" in a.log(), a.log_tail(30)
        assert plain.sessions >= 1
        verbs = [line.split()[0].upper() for line in plain.lines if line.strip()]
        assert verbs and verbs[0] == b"EHLO", plain.lines
        assert b"AUTH" not in verbs and b"MAIL" not in verbs, plain.lines
        assert not any(b"secret" in line or b"c2VjcmV0" in line for line in plain.lines)
        assert a.cli("queue", "list")[1].count(qid) == 1
        assert not [d for _, d in a.messages(ALICE) if qid.encode() in d]
    finally:
        plain.close()


@pytest.fixture
def cli():
    """A data directory and overrides, no server running."""
    srv = Postel()
    yield srv
    srv.cleanup()


def test_bad_password_file_is_explained(cli, tmp_path):
    """config check and serve name the file and what is wrong with it."""
    a = cli
    loose = password_file(tmp_path, "pw", mode=0o644)
    base = ["-o", "relayhost=[smtp.example.net]:587", "-o", f"relayhost_user={ALICE}"]
    rc, _, err = a.cli(*base, "-o", f"relayhost_password_file={loose}", "config",
                       "check", check=False)
    assert rc != 0 and str(loose) in err and "0644" in err and "chmod 0640" in err, err
    missing = tmp_path / "missing.pw"
    rc, _, err = a.cli(*base, "-o", f"relayhost_password_file={missing}", "config",
                       "check", check=False)
    assert rc != 0 and str(missing) in err and "No such file" in err, err
    # a good file: config check has nothing to say about the relayhost
    good = password_file(tmp_path, "pw", mode=0o600, name="good.pw")
    rc, _, err = a.cli(*base, "-o", f"relayhost_password_file={good}", "config",
                       "check", check=False)
    assert "relayhost" not in err, err
    # a CA file the runner could not load: refused here, not a runner that
    # fails at every restart
    bad_ca = tmp_path / "bad-ca.pem"
    bad_ca.write_text("not a certificate\n")
    rc, _, err = a.cli(*base, "-o", f"relayhost_password_file={good}", "-o",
                       f"relayhost_ca_file={bad_ca}", "config", "check", check=False)
    assert rc != 0 and str(bad_ca) in err and "CA" in err, err
    p = subprocess.run(a.global_args() + base +
                       ["-o", f"relayhost_password_file={loose}", "serve"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 1, p
    assert b"event=start_failed" in p.stderr and str(loose).encode() in p.stderr, p.stderr
