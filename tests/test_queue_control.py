"""Issue 10 item 9: postel queue flush, retry ID, hold ID, release ID.

On loopback, with the dnslib zone and the aiosmtpd MX of
test_relay_runner.py. Retries are set far apart (600 s) so that only the
commands can make an entry due again within the test: a held entry is
never sent (not by flush, not after a restart), release and retry send
at once (the running runner is told, not polled), a hold placed while
an attempt is in flight outlives that attempt, and bad arguments give
clear errors with exit 1 or 2."""
import time

import pytest

from conftest import scaled, token
from test_queue_cli import queue_remote

pytest.importorskip("aiosmtpd.controller")
from test_relay_runner import dns, free_port, start_sink  # noqa: E402,F401

SLOW = {"queue_retry_min": "600", "queue_retry_max": "600"}


def relay_server(postel_factory, dns, port, **extra):
    o = {"relay": "yes", "relay_port": str(port), "dns_resolver": dns.address,
         "dns_trust_anchor": "none"}
    o.update(extra)
    return postel_factory(**o)


def deferred(srv, qid, timeout=10):
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=45\d",
                            timeout=timeout)
    assert line, srv.log_tail(30)
    # the lease is given back right after the attempt's line
    deadline = time.monotonic() + scaled(5)
    while "status: being delivered" in srv.cli("queue", "show", qid)[1]:
        assert time.monotonic() < deadline, srv.cli("queue", "show", qid)[1]
        time.sleep(0.05)


def sent_to(sink, rcpt):
    with sink.lock:
        return sum(1 for _, rcpts, _ in sink.messages if rcpt in rcpts)


def wait_sent(sink, rcpt, seconds):
    deadline = time.monotonic() + scaled(seconds)
    while time.monotonic() < deadline:
        if sent_to(sink, rcpt):
            return True
        time.sleep(0.05)
    return False


def test_hold_flush_restart_release(dns, postel_factory):
    port = free_port()  # the MX is down at first
    srv = relay_server(postel_factory, dns, port, **SLOW)
    tok = token()
    held_rcpt, other_rcpt = (f"{p}{tok[1:9]}@remote.example" for p in ("oka", "okb"))
    held = queue_remote(srv, tok, [held_rcpt])
    other = queue_remote(srv, tok + "b", [other_rcpt])
    deferred(srv, held)
    deferred(srv, other)
    assert srv.cli("queue", "hold", held)[1] == f"{held} held\n"
    listing = srv.cli("queue", "list")[1]
    line = [x for x in listing.splitlines() if x.startswith(held)]
    assert line and line[0].endswith("  held"), listing
    assert not [x for x in listing.splitlines()
                if x.startswith(other) and x.endswith("held")], listing
    show = srv.cli("queue", "show", held)[1]
    assert "hold: yes" in show and "status: held" in show, show
    sink, ctl = start_sink(port)
    try:
        out = srv.cli("queue", "flush")[1]
        assert "flushed: 1 of 2 entries made due now, 1 held" in out, out
        assert "queue runner told" in out, out
        assert wait_sent(sink, other_rcpt, 3), srv.log_tail(30)
        time.sleep(scaled(1.5))
        assert sent_to(sink, held_rcpt) == 0, "flush sent a held entry"
        # the hold is in the envelope: a restart keeps it
        srv.restart()
        assert srv.wait_for_log(r"event=runner_started", timeout=10)
        srv.cli("queue", "flush")
        time.sleep(scaled(1.5))
        assert sent_to(sink, held_rcpt) == 0, "held entry sent after a restart"
        assert "hold: yes" in srv.cli("queue", "show", held)[1]
        t0 = time.monotonic()
        out = srv.cli("queue", "release", held)[1]
        assert out.startswith(f"{held} released\n") and "queue runner told" in out, out
        assert wait_sent(sink, held_rcpt, 2), srv.log_tail(30)
        took = time.monotonic() - t0
        assert took < scaled(2), f"sent {took:.2f}s after release: not told at once"
        assert srv.wait_for_log(rf"event=relay_done queue_id={held}", timeout=5)
        assert sent_to(sink, held_rcpt) == 1 and sent_to(sink, other_rcpt) == 1
    finally:
        ctl.stop()


def test_retry_sends_a_deferred_entry_at_once(dns, postel_factory):
    port = free_port()
    srv = relay_server(postel_factory, dns, port, **SLOW)
    tok = token()
    rcpt = f"ok{tok[1:9]}@remote.example"
    qid = queue_remote(srv, tok, [rcpt])
    deferred(srv, qid)
    sink, ctl = start_sink(port)
    try:
        time.sleep(scaled(1))
        assert sent_to(sink, rcpt) == 0  # the backoff is 600 s
        t0 = time.monotonic()
        out = srv.cli("queue", "retry", qid)[1]
        assert out.startswith(f"{qid} due now\n") and "queue runner told" in out, out
        assert wait_sent(sink, rcpt, 2), srv.log_tail(30)
        assert time.monotonic() - t0 < scaled(2)
        assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    finally:
        ctl.stop()


def test_hold_during_an_attempt_outlives_it(dns, postel_factory):
    """The runner's own write after the attempt must keep the hold, and
    with a 1 s backoff it must not come back for the entry."""
    port = free_port()
    sink, ctl = start_sink(port, rcpt_delay=2.0)
    try:
        srv = relay_server(postel_factory, dns, port, queue_retry_min="1",
                           queue_retry_max="1")
        tok = token()
        rcpt = f"tmp{tok[1:9]}@remote.example"  # 450: deferred
        qid = queue_remote(srv, tok, [rcpt])
        deadline = time.monotonic() + scaled(5)
        while not sink.rcpts_seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sink.rcpts_seen, srv.log_tail(30)
        out = srv.cli("queue", "hold", qid)[1]
        assert out == f"{qid} held (being delivered: held after the current attempt)\n", out
        deferred(srv, qid)
        time.sleep(scaled(3))
        with sink.lock:
            assert sink.rcpts_seen.count(rcpt) == 1, sink.rcpts_seen
        show = srv.cli("queue", "show", qid)[1]
        assert "hold: yes" in show and "deferred" in show, show
    finally:
        ctl.stop()


def test_bad_arguments_and_unknown_ids(postel_factory):
    srv = postel_factory()  # no runner: changes wait for its start
    unknown = "0" * 24 + "1"
    for cmd in ("retry", "hold", "release"):
        rc, _, err = srv.cli("queue", cmd, "nothex", check=False)
        assert rc == 1 and 'invalid queue id "nothex"' in err, (cmd, rc, err)
        rc, _, err = srv.cli("queue", cmd, unknown, check=False)
        assert rc == 1 and f"no queue entry {unknown}" in err, (cmd, rc, err)
        rc, _, err = srv.cli("queue", cmd, check=False)
        assert rc == 2 and "usage:" in err, (cmd, rc, err)
    rc, _, err = srv.cli("queue", "flush", "extra", check=False)
    assert rc == 2 and "usage:" in err
    tok = token()
    qid = queue_remote(srv, tok, [f"r{tok[1:9]}@remote.example"])
    rc, _, err = srv.cli("queue", "release", qid, check=False)
    assert rc == 1 and f"{qid}: not held" in err, err
    assert srv.cli("queue", "hold", qid)[1] == f"{qid} held\n"
    rc, out, _ = srv.cli("queue", "hold", qid)
    assert out == f"{qid} unchanged (already held)\n", out
    rc, _, err = srv.cli("queue", "retry", qid, check=False)
    assert rc == 1 and "held" in err and "release" in err, err
    rc, out, _ = srv.cli("queue", "flush")
    assert "0 of 1 entries made due now, 1 held" in out, out
    assert "queue runner is not running" in out, out
    out = srv.cli("queue", "release", qid)[1]
    assert out.startswith(f"{qid} released\n"), out
    helptext = srv.cli("queue", "--help")[1]
    for word in ("flush", "retry ID", "hold ID", "release ID"):
        assert word in helptext, helptext
