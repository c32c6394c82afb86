"""Issue 10 items 1, 2 and 6: the queue runner sends queued mail out.

On loopback only: a dnslib zone server (probe_dns_server.py) answers MX
and A records for the test domains, all pointing at 127.0.0.1, and an
aiosmtpd server on a free port (relay_port) is the remote MX. Mail is
submitted on 587 by alice; the runner must deliver it byte for byte,
woken by the worker's commit (not by polling), keep per-recipient
outcomes (250 delivered, 450 deferred, 550 bounced with one DSN in
alice's INBOX), bounce a null-MX domain at once (RFC 7505), fall back to
A records without MX (RFC 5321 5.1), retry a domain that was down, and
deliver exactly once across kill -9 of the runner and SIGHUP."""
import email
import os
import shutil
import re
import signal
import threading
import time

import pytest

from conftest import ALICE, free_ports, make_message, scaled, token
from test_queue_cli import queue_remote
from test_queue_state import put_entry

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.controller import Controller  # noqa: E402
from probe_dns_server import ZoneServer  # noqa: E402

QID = r"[0-9a-f]{25}"

ZONE = """
remote.example.      60 IN MX 10 mx1.remote.example.
remote.example.      60 IN MX 10 mx2.remote.example.
mx1.remote.example.  60 IN A 127.0.0.1
mx2.remote.example.  60 IN A 127.0.0.1
nullmx.example.      60 IN MX 0 .
amx.example.         60 IN A 127.0.0.1
"""


class Sink:
    """The remote MX: RCPT decided by the local part's prefix (ok, tmp:
    450, bad: 550); messages kept as received (dot-unstuffed, CRLF)."""

    def __init__(self, rcpt_delay=0.0):
        self.messages = []
        self.rcpts_seen = []
        self.rcpt_delay = rcpt_delay
        self.lock = threading.Lock()
        self.active = self.most_active = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio
        with self.lock:
            self.rcpts_seen.append(address)
            delay = self.rcpt_delay
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        if delay:
            await asyncio.sleep(delay)
        with self.lock:
            self.active -= 1
        local = address.split("@")[0]
        if local.startswith("tmp"):
            return "450 4.2.1 try again later"
        if local.startswith("bad"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.original_content))
        return "250 OK queued"

    def wait(self, n, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            return list(self.messages)


def free_port():
    """A port of this process's block (ports.py): not one another test
    process may be handed at the same time."""
    return free_ports(1)[0]


@pytest.fixture
def dns():
    z = ZoneServer(ZONE)
    yield z
    z.close()


def start_sink(port, **kw):
    sink = Sink(**kw)
    c = Controller(sink, hostname="127.0.0.1", port=port)
    c.start()
    return sink, c


@pytest.fixture
def relay(dns, postel_factory):
    """(server, sink, sink port) with the runner on and fast retries."""
    port = free_port()
    sink, ctl = start_sink(port)

    def make(**overrides):
        o = {"relay": "yes", "relay_port": str(port), "dns_resolver": dns.address,
             "dns_trust_anchor": "none", "queue_retry_min": "2",
             "queue_retry_max": "4"}
        o.update(overrides)
        return postel_factory(**o)
    yield make, sink, port
    ctl.stop()


def submit(srv, rcpts, tok):
    """(queue id, the message as submitted)"""
    return queue_remote(srv, tok, rcpts), make_message(tok, sender=ALICE, to=rcpts[0])


def runner_pid(srv, timeout=10):
    line = srv.wait_for_log(r"event=runner_started pid=\d+", timeout=timeout)
    assert line, srv.log_tail(30)
    pids = re.findall(r"event=runner_started pid=(\d+)", srv.log())
    return int(pids[-1])


def dsns(srv, qid):
    """Failure DSNs about queue entry qid in alice's INBOX, parsed."""
    out = []
    for _, data in srv.messages(ALICE):
        m = email.message_from_bytes(data)
        if m.get_content_type() == "multipart/report" and qid.encode() in data:
            out.append(m)
    return out


def wait_dsns(srv, qid, timeout=5):
    deadline = time.monotonic() + scaled(timeout)
    while not dsns(srv, qid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return dsns(srv, qid)


def dsn_status(m):
    """{final-recipient: (action, status)} of an RFC 3464 report."""
    out = {}
    for part in m.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            rcpt = block.get("Final-Recipient")
            if rcpt:
                out[rcpt.split(";")[-1].strip()] = (block.get("Action"),
                                                    block.get("Status"))
    return out


def test_runner_delivers_byte_exact_at_once(relay):
    make, sink, _ = relay
    srv = make()
    runner_pid(srv)
    time.sleep(0.5)  # past the start-up scan: only the commit can wake it
    tok = token()
    t0 = time.monotonic()
    qid, msg = submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    got = sink.wait(1, 5)
    took = time.monotonic() - t0
    assert len(got) == 1, srv.log_tail(30)
    assert took < scaled(2), f"delivered after {took:.2f}s: woken, not polled"
    mail_from, rcpts, content = got[0]
    assert mail_from == ALICE and rcpts == [f"ok{tok[1:9]}@remote.example"]
    # our trace header first, then the message exactly as submitted
    # (dot-stuffed on the wire, unstuffed by the sink)
    assert content.endswith(msg), content
    assert content[:-len(msg)].startswith(b"Received: "), content[:200]
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert line and 'mx="mx' in line and "tls=no" in line and "codes=250" in line, line
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    assert "not implemented" not in srv.log()
    assert srv.cli("queue", "list")[1].count(qid) == 0


def test_mixed_outcomes_deliver_defer_and_bounce_once(relay):
    make, sink, _ = relay
    srv = make(queue_retry_min="600", queue_retry_max="600")
    tok = token()
    ok, tmp, bad = (f"{p}{tok[1:9]}@remote.example" for p in ("ok", "tmp", "bad"))
    qid, _ = submit(srv, [ok, tmp, bad], tok)
    got = sink.wait(1, 5)
    assert len(got) == 1 and got[0][1] == [ok], got
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=250,450,550",
                            timeout=5)
    assert line, srv.log_tail(30)
    reports = wait_dsns(srv, qid)
    assert len(reports) == 1, srv.log_tail(30)
    st = dsn_status(reports[0])
    assert st.get(bad, ("", ""))[0] == "failed" and st[bad][1].startswith("5."), st
    assert ok not in st and tmp not in st, st
    # the entry stays for the deferred recipient only
    out = srv.cli("queue", "show", qid)[1]
    assert re.search(rf"{re.escape(tmp)} attempts=1\n +state: deferred", out), out
    assert re.search(rf"{re.escape(ok)} attempts=1\n +state: delivered", out), out
    # no second DSN for the same failure
    time.sleep(1)
    assert len(dsns(srv, qid)) == 1


def test_null_mx_bounces_at_once(relay):
    make, sink, _ = relay
    srv = make()
    tok = token()
    rcpt = f"u{tok[1:9]}@nullmx.example"
    qid, _ = submit(srv, [rcpt], tok)
    reports = wait_dsns(srv, qid)
    assert len(reports) == 1, srv.log_tail(30)
    assert dsn_status(reports[0])[rcpt] == ("failed", "5.1.10")
    assert not sink.messages
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)


def test_no_mx_falls_back_to_a(relay):
    make, sink, _ = relay
    srv = make()
    tok = token()
    rcpt = f"ok{tok[1:9]}@amx.example"
    qid, _ = submit(srv, [rcpt], tok)
    got = sink.wait(1, 5)
    assert len(got) == 1 and got[0][1] == [rcpt], srv.log_tail(30)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert 'mx="amx.example"' in line, line


def test_remote_down_is_deferred_then_retried(dns, postel_factory):
    port = free_port()  # nothing listens yet
    srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                         dns_trust_anchor="none", queue_retry_min="2",
                         queue_retry_max="2")
    tok = token()
    rcpt = f"ok{tok[1:9]}@remote.example"
    qid, _ = submit(srv, [rcpt], tok)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=451", timeout=10)
    assert line, srv.log_tail(30)
    out = srv.cli("queue", "show", qid)[1]
    assert "deferred" in out, out
    sink, ctl = start_sink(port)
    try:
        got = sink.wait(1, 10)
        assert len(got) == 1 and got[0][1] == [rcpt], srv.log_tail(30)
        assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    finally:
        ctl.stop()


def test_runner_killed_mid_delivery_restarts_and_delivers_once(dns, postel_factory):
    port = free_port()
    sink, ctl = start_sink(port, rcpt_delay=3.0)
    try:
        srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                             dns_trust_anchor="none", queue_retry_min="1",
                             queue_retry_max="1")
        srv.stable_workers = False
        pid = runner_pid(srv)
        tok = token()
        rcpt = f"ok{tok[1:9]}@remote.example"
        qid, _ = submit(srv, [rcpt], tok)
        deadline = time.monotonic() + scaled(5)
        while not sink.rcpts_seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.rcpts_seen, srv.log_tail(30)
        os.kill(pid, signal.SIGKILL)  # in the middle of RCPT
        with sink.lock:
            sink.rcpt_delay = 0
        assert srv.wait_for_log(rf"event=runner_crashed pid={pid} signal=9", timeout=5)
        got = sink.wait(1, 10)
        assert len(got) == 1, srv.log_tail(30)
        assert srv.wait_for_log(rf"event=relay_lease_orphaned queue_id={qid}", timeout=5)
        time.sleep(1.5)
        assert len(sink.messages) == 1
        assert runner_pid(srv) != pid
    finally:
        ctl.stop()


def test_sighup_replaces_runner_without_double_delivery(relay):
    make, sink, _ = relay
    srv = make()
    srv.stable_workers = False
    old = runner_pid(srv)
    toks = [token() for _ in range(6)]
    for i, tok in enumerate(toks):
        submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
        if i == 2:
            os.kill(srv.pid, signal.SIGHUP)
    got = sink.wait(len(toks), 10)
    time.sleep(1.5)
    got = list(sink.messages)
    for tok in toks:
        n = sum(1 for _, _, c in got if tok.encode() in c)
        assert n == 1, (tok, n, srv.log_tail(40))
    assert len(got) == len(toks)
    assert srv.wait_for_log(rf"event=runner_retired pid={old}", timeout=10)
    assert runner_pid(srv) != old


def test_delay_warning_once_then_delivery(dns, postel_factory):
    port = free_port()  # down at first
    srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                         dns_trust_anchor="none", queue_retry_min="2",
                         queue_retry_max="2", delay_warning_time="1")
    tok = token()
    rcpt = f"ok{tok[1:9]}@remote.example"
    qid, _ = submit(srv, [rcpt], tok)
    # the second attempt finds the entry older than delay_warning_time
    deadline = time.monotonic() + scaled(10)
    delayed = []
    while not delayed and time.monotonic() < deadline:
        delayed = [m for m in dsns(srv, qid)
                   if dsn_status(m).get(rcpt, ("",))[0] == "delayed"]
        time.sleep(0.1)
    assert len(delayed) == 1, srv.log_tail(30)
    sink, ctl = start_sink(port)
    try:
        assert len(sink.wait(1, 10)) == 1, srv.log_tail(30)
        assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    finally:
        ctl.stop()
    assert len(dsns(srv, qid)) == 1  # one delay notice, no failure


NULL_SENDER_ENV = """postel-envelope 2
id={id}
received={now}
size=3
sender=
smtputf8=no
body=7bit
ret=none
rcpt={rcpt}
rcpt-attempts=0
rcpt-next-attempt=0
rcpt-state=pending
end
"""


def test_null_sender_gets_no_dsn(relay):
    """A bounce that bounces (MAIL FROM:<>, as DSNs to remote senders are
    queued) fails without a DSN (RFC 5321 4.5.5), and the entry goes."""
    make, sink, _ = relay
    srv = make()
    srv.stable_workers = False
    old = runner_pid(srv)
    tok = token()
    rcpt = f"bad{tok[1:9]}@remote.example"
    qid = "0000000000000000000000ab1"
    put_entry(srv, qid, NULL_SENDER_ENV.replace("{now}", str(int(time.time())))
              .replace("{rcpt}", rcpt))
    for sub in ("msg", "env"):
        shutil.chown(srv.datadir / "queue" / sub / qid, "postel", "postel")
    os.kill(srv.pid, signal.SIGHUP)  # the new runner's scan finds it
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=550", timeout=10)
    assert line, srv.log_tail(30)
    # the remote's enhanced code once, as it sent it
    assert 'reply="550 5.1.1 no such user"' in line, line
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    assert not dsns(srv, qid)
    assert f"event=dsn kind=failure queue_id={qid}" not in srv.log()
    assert runner_pid(srv) != old


@pytest.mark.parametrize("per_domain,low,high", [("1", 1, 1), ("20", 2, 3)])
def test_per_domain_limit(dns, postel_factory, per_domain, low, high):
    """relay_max_per_domain caps the connections to one domain at once;
    without the cap the same burst goes out in parallel."""
    port = free_port()
    sink, ctl = start_sink(port, rcpt_delay=1.5)
    try:
        srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                             dns_trust_anchor="none", relay_max_per_domain=per_domain)
        runner_pid(srv)
        toks = [token() for _ in range(3)]
        for tok in toks:
            submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
        assert len(sink.wait(3, 15)) == 3, srv.log_tail(30)
        assert low <= sink.most_active <= high, sink.most_active
    finally:
        ctl.stop()


def test_sigterm_drains_the_delivery_in_flight(dns, postel_factory):
    """SIGTERM: the runner starts nothing new but finishes the attempt in
    flight (the remote's 250 is recorded), then exits with the master."""
    port = free_port()
    sink, ctl = start_sink(port, rcpt_delay=2.0)
    try:
        srv = postel_factory(relay="yes", relay_port=str(port), dns_resolver=dns.address,
                             dns_trust_anchor="none")
        runner_pid(srv)
        tok = token()
        qid, _ = submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
        deadline = time.monotonic() + scaled(5)
        while not sink.rcpts_seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.rcpts_seen, srv.log_tail(30)
        problems = srv.stop()
        assert not problems, problems
        assert len(sink.messages) == 1
        log = srv.log()
        assert "event=runner_draining" in log and "event=runner_exit" in log, log[-2000:]
        assert re.search(rf"event=relay_done queue_id={qid}", log), log[-2000:]
    finally:
        ctl.stop()
