"""Issue 10 items 3 and 6, TESTING.md catalogue item 27: the queue runner
against Postfix's smtp-sink and its fault modes, and the SMTP client's
extension handling (SIZE, 8BITMIME, SMTPUTF8, CHUNKING, DSN parameters).

On loopback only. A dnslib zone server (probe_dns_server.py) points the
MX of remote.example at 127.0.0.1; the MX is either smtp-sink, run as a
private process on a free high port (`-u nobody`, its dump file in a
temporary directory), or RawMX below: a scripted SMTP server in a thread
that advertises exactly the extensions a test names and records every
byte it reads, so the wire itself (CRLF, dot-stuffing, BDAT) is checked.

- 4xx on MAIL, RCPT, DATA or the final dot: the recipient is deferred and
  `queue show` reports a next attempt whose distance grows (backoff).
- 5xx on the same commands: one RFC 3464 DSN in alice's INBOX, no second.
- a disconnect without a reply (-q), a 421 (-Q), a reply slower than the
  relay_timeout_* key (-W): deferred.
- SIZE over the remote limit, 8-bit content to a server without
  8BITMIME, SMTPUTF8 needed and missing: bounced without sending."""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ALICE, dot_stuff, make_message, scaled, token
from test_relay_runner import (ZONE, dsn_status, dsns, free_port, submit,
                               wait_dsns)

pytest.importorskip("dnslib")
from probe_dns_server import ZoneServer  # noqa: E402

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """A private smtp-sink on 127.0.0.1:port with the given options; every
    transaction is appended to self.dump (-D)."""

    def __init__(self, port, *opts):
        if not os.access(SMTP_SINK, os.X_OK):
            pytest.skip(f"{SMTP_SINK} is not installed (postfix package)")
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="relay-sink-", dir="/tmp"))
        os.chmod(self.dir, 0o777)
        self.dump = self.dir / "dump"
        args = [SMTP_SINK, "-D", str(self.dump), "-t", "30"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [*opts, f"127.0.0.1:{port}", "64"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        err = self.proc.stderr.read() if self.proc.poll() is not None else b""
        self.stop()
        raise AssertionError(f"smtp-sink did not listen on {port}: {err!r}")

    def transactions(self):
        """The dumped transactions, each the bytes smtp-sink wrote."""
        try:
            data = self.dump.read_bytes()
        except OSError:
            return []
        return [b"X-Client-Addr:" + t for t in data.split(b"X-Client-Addr:")[1:]]

    def wait(self, n, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while len(self.transactions()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.transactions()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dns():
    z = ZoneServer(ZONE)
    yield z
    z.close()


@pytest.fixture
def sink_relay(dns, postel_factory):
    """make(sink_opts, **config) -> (server, sink)."""
    sinks = []

    def make(opts=(), **overrides):
        port = free_port()
        sink = SmtpSink(port, *opts)
        sinks.append(sink)
        o = {"relay": "yes", "relay_port": str(port), "dns_resolver": dns.address,
             "dns_trust_anchor": "none", "queue_retry_min": "600",
             "queue_retry_max": "600"}
        o.update(overrides)
        return postel_factory(**o), sink
    yield make
    for s in sinks:
        s.stop()


def rcpt_for(tok, prefix="ok"):
    return f"{prefix}{tok[1:9]}@remote.example"


def show(srv, qid):
    return srv.cli("queue", "show", qid, check=False)[1]


def next_attempt(srv, qid, rcpt):
    """(attempts, next attempt as a Unix time) of rcpt in `queue show`."""
    m = re.search(rf"{re.escape(rcpt)} attempts=(\d+)\n +state: deferred "
                  r"next-attempt=(\S+)", show(srv, qid))
    if not m:
        return None
    t = time.strptime(m[2], "%Y-%m-%dT%H:%M:%SZ")
    return int(m[1]), int(time.mktime(t) - time.timezone)


def wait_attempts(srv, qid, rcpt, n, timeout):
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        got = next_attempt(srv, qid, rcpt)
        if got and got[0] >= n:
            return got
        time.sleep(0.1)
    return next_attempt(srv, qid, rcpt)


# -------------------------------------------------------------------------
# smtp-sink fault modes (catalogue item 27)


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA", "."])
def test_4xx_defers_with_growing_backoff(sink_relay, command):
    srv, sink = sink_relay(["-r", command], queue_retry_min="1", queue_retry_max="8")
    tok = token()
    rcpt = rcpt_for(tok)
    qid, _ = submit(srv, [rcpt], tok)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=450", timeout=10)
    assert line and "4.3.0" in line, srv.log_tail(30)
    seen = []
    for n in (1, 2, 3):
        got = wait_attempts(srv, qid, rcpt, n, 15)
        assert got and got[0] >= n, (n, show(srv, qid), srv.log_tail(20))
        if got[0] == n:
            seen.append(got[1])
    # three distinct attempts were caught: the gaps grow (retry_min 1s,
    # doubled each time, +-10% jitter)
    assert len(seen) >= 3, seen
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert gaps[1] > gaps[0] >= 1, (seen, gaps)
    assert not dsns(srv, qid)
    assert "reply=\"450 4.3.0" in show(srv, qid)
    if command != ".":  # smtp-sink dumps a message it then refused
        assert not sink.transactions()


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DATA", "."])
def test_5xx_bounces_once(sink_relay, command):
    srv, sink = sink_relay(["-f", command])
    tok = token()
    rcpt = rcpt_for(tok)
    qid, _ = submit(srv, [rcpt], tok)
    reports = wait_dsns(srv, qid, timeout=10)
    assert len(reports) == 1, srv.log_tail(30)
    m = reports[0]
    # RFC 3464 2: multipart/report; report-type=delivery-status
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    assert dsn_status(m)[rcpt] == ("failed", "5.3.0"), dsn_status(m)
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    time.sleep(1)
    assert len(dsns(srv, qid)) == 1
    assert srv.log().count(f"event=dsn kind=failure queue_id={qid}") == 1
    assert srv.cli("queue", "list")[1].count(qid) == 0


@pytest.mark.parametrize("opts,overrides", [
    (["-q", "RCPT"], {}),                       # disconnect, no reply
    (["-Q", "MAIL"], {}),                       # 421 and close
    # -p: smtp-sink answers pipelined commands behind a delayed one
    # before it (out of order), so the delays are tested one at a time
    (["-p", "-W", "RCPT:4"], {"relay_timeout_rcpt": "1"}),
    (["-p", "-W", "MAIL:4"], {"relay_timeout_mail": "1"}),
    (["-p", "-w", "4"], {"relay_timeout_data": "1"}),
    (["-p", "-W", ".:4"], {"relay_timeout_data_end": "1"}),
], ids=["q-rcpt", "Q-mail", "W-rcpt", "W-mail", "w-data", "W-dot"])
def test_lost_connection_and_timeouts_defer(sink_relay, opts, overrides):
    srv, sink = sink_relay(opts, **overrides)
    tok = token()
    rcpt = rcpt_for(tok)
    t0 = time.monotonic()
    qid, _ = submit(srv, [rcpt], tok)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=4\d\d",
                            timeout=15)
    took = time.monotonic() - t0
    assert line, srv.log_tail(30)
    if overrides:
        # the two MX hosts each waited the short timeout, not smtp-sink's delay
        assert "timeout" in line.lower() or "timed out" in line.lower(), line
        assert took < scaled(8), took
    out = show(srv, qid)
    assert re.search(rf"{re.escape(rcpt)} attempts=1\n +state: deferred", out), out
    assert not dsns(srv, qid)
