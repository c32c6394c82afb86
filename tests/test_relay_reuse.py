"""Issue 10 item 1: the queue runner reuses an open SMTP connection for
the next message to the same destination domain (RSET, RFC 5321
4.1.1.5) instead of QUIT and a new connect, and closes a connection that
stays idle for a few seconds (runner_reuse.c, RUNNER_REUSE_IDLE_MS).

The remote MX is aiosmtpd on loopback (tests/test_relay_runner.py's
zone server and sink); it counts the SMTP sessions (a new Session object
per TCP connection) and the QUITs it gets."""
import time

import pytest

from conftest import token, scaled
from test_relay_runner import (Sink, free_port, runner_pid, submit,  # noqa: F401
                               dns)

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.controller import Controller  # noqa: E402

IDLE_SECS = 3  # RUNNER_REUSE_IDLE_MS


class CountingSink(Sink):
    def __init__(self):
        super().__init__()
        self.sessions = []   # kept alive so that each stays distinct
        self.quits = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if not any(s is session for s in self.sessions):
                self.sessions.append(session)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits += 1
        return "221 Bye"


@pytest.fixture
def counted(dns, postel_factory):
    """(server, counting sink, its port, a holder of its controller)"""
    port = free_port()
    sink = CountingSink()
    ctl = [Controller(sink, hostname="127.0.0.1", port=port)]
    ctl[0].start()
    try:
        srv = postel_factory(relay="yes", relay_port=str(port),
                             dns_resolver=dns.address, dns_trust_anchor="none")
        runner_pid(srv)
        yield srv, sink, port, ctl
    finally:
        ctl[0].stop()


def test_burst_to_one_domain_reuses_connections(counted):
    srv, sink, _, _ = counted
    n = 20
    toks = [token() for _ in range(n)]
    for tok in toks:
        submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    got = sink.wait(n, 20)
    assert len(got) == n, srv.log_tail(30)
    for tok in toks:
        assert sum(1 for _, _, c in got if tok.encode() in c) == 1, tok
    with sink.lock:
        conns = len(sink.sessions)
    # one connection per message before; now a few carry them all
    assert conns <= 5, (conns, srv.log_tail(30))
    # idle connections are closed (QUIT) after a few seconds
    deadline = time.monotonic() + scaled(IDLE_SECS + 5)
    while time.monotonic() < deadline:
        with sink.lock:
            if sink.quits >= conns:
                break
        time.sleep(0.1)
    assert sink.quits == conns, (sink.quits, conns)
    # and a later message still goes out, on a new connection
    tok = token()
    submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    assert len(sink.wait(n + 1, 10)) == n + 1, srv.log_tail(30)
    with sink.lock:
        assert len(sink.sessions) == conns + 1


def test_stale_parked_connection_falls_back_to_a_new_one(counted):
    """The MX closes the parked connection (here: the whole server
    restarts on the same port); the next message finds it dead and
    connects afresh instead of deferring."""
    srv, sink, port, ctl = counted
    tok = token()
    submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    assert len(sink.wait(1, 10)) == 1, srv.log_tail(30)
    ctl[0].stop()
    ctl[0] = Controller(sink, hostname="127.0.0.1", port=port)
    ctl[0].start()
    tok = token()
    qid, _ = submit(srv, [f"ok{tok[1:9]}@remote.example"], tok)
    assert len(sink.wait(2, 10)) == 2, srv.log_tail(30)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} ", timeout=5)
    assert line and "codes=250" in line, line


def test_runner_process_title(dns, postel_factory):
    """Issue 10 item 1: ps shows the runner as `postel: queue runner`
    (argv rewritten in the forked child; comm holds 15 bytes only)."""
    import subprocess
    srv = postel_factory(relay="yes", relay_port=str(free_port()),
                         dns_resolver=dns.address, dns_trust_anchor="none")
    pid = runner_pid(srv)
    args = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True,
                          text=True, timeout=10).stdout.strip()
    assert args == "postel: queue runner", args
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "postel: runner"
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().rstrip(b"\0") == b"postel: queue runner"
