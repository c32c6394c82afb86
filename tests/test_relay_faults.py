"""Issue 10 items 3 and 6, TESTING.md catalogue item 27: the queue runner
against Postfix's smtp-sink and its fault modes, and the SMTP client's
extension handling (SIZE, 8BITMIME, SMTPUTF8, CHUNKING, DSN parameters).

On loopback only. A dnslib zone server (probe_dns_server.py) points the
MX of remote.example at 127.0.0.1; the MX is either smtp-sink, run as a
private process on a free high port (relay_mx.py: `-u nobody`, its dump file in a
temporary directory), or RawMX: a scripted SMTP server in a thread
that advertises exactly the extensions a test names and records every
byte it reads, so the wire itself (CRLF, dot-stuffing, BDAT) is checked.

- 4xx on MAIL, RCPT, DATA or the final dot: the recipient is deferred;
  the attempts come further apart each time and `queue show` names the
  next one (backoff).
- 5xx on the same commands: one RFC 3464 DSN in alice's INBOX, no second.
- a disconnect without a reply (-q), a 421 (-Q), a reply slower than the
  relay_timeout_* key (-W): deferred.
- SIZE over the remote limit, SMTPUTF8 needed and missing: bounced
  without sending; 8-bit content to a server without 8BITMIME: converted
  to quoted-printable (RFC 6152 3), or bounced 554 5.6.3 when it cannot be.
- DSN parameters passed on, CRLF and dot-stuffing on the wire, BDAT when
  CHUNKING is offered."""
import calendar
import email
import re
import time

import pytest

from conftest import ALICE, dot_stuff, make_message, scaled, token
from relay_mx import RawMX, SmtpSink
from test_relay_runner import (ZONE, dsn_status, dsns, free_port, submit,
                               wait_dsns)

pytest.importorskip("dnslib")
from probe_dns_server import ZoneServer  # noqa: E402


@pytest.fixture
def dns():
    z = ZoneServer(ZONE)
    yield z
    z.close()


def relay_config(dns, port, overrides):
    """The runner on, the MX on port; retries far off unless overridden."""
    o = {"relay": "yes", "relay_port": str(port), "dns_resolver": dns.address,
         "dns_trust_anchor": "none", "queue_retry_min": "600",
         "queue_retry_max": "600"}
    o.update(overrides)
    return o


@pytest.fixture
def sink_relay(dns, postel_factory):
    """make(sink_opts, **config) -> (server, sink)."""
    sinks = []

    def make(opts=(), **overrides):
        port = free_port()
        sink = SmtpSink(port, *opts)
        sinks.append(sink)
        return postel_factory(**relay_config(dns, port, overrides)), sink
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
    return int(m[1]), calendar.timegm(t)


def attempt_times(srv, qid):
    """Unix times of the relay_attempt lines about qid in the log."""
    out = []
    for m in re.finditer(rf"ts=(\S+)Z .*event=relay_attempt queue_id={qid} ", srv.log()):
        t = time.strptime(m[1].split(".")[0], "%Y-%m-%dT%H:%M:%S")
        out.append(calendar.timegm(t) + float("0." + m[1].split(".")[1]))
    return out


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
def test_4xx_defers(sink_relay, command):
    srv, sink = sink_relay(["-r", command])
    tok = token()
    rcpt = rcpt_for(tok)
    qid, _ = submit(srv, [rcpt], tok)
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=450", timeout=10)
    assert line and "4.3.0" in line, srv.log_tail(30)
    got = wait_attempts(srv, qid, rcpt, 1, 5)
    # retry_min 600 s, +-10%, kept in whole seconds
    assert got and got[0] == 1 and got[1] - time.time() > 500, show(srv, qid)
    assert "reply=\"450 4.3.0" in show(srv, qid)
    assert not dsns(srv, qid)
    if command != ".":  # smtp-sink dumps a message it then refused
        assert not sink.transactions()


def test_4xx_backoff_grows(sink_relay):
    """RFC 5321 4.5.4.1: retries further apart each time. queue_retry_min
    4 s doubling; the delay is +-10% in whole seconds and the next attempt
    a whole second, so each gap is up to 2 s short: 2-4 s, then 6-8 s,
    then `queue show` names a next attempt 13-16 s on."""
    srv, sink = sink_relay(["-r", "RCPT"], queue_retry_min="4", queue_retry_max="64")
    tok = token()
    rcpt = rcpt_for(tok)
    qid, _ = submit(srv, [rcpt], tok)
    deadline = time.monotonic() + scaled(25)
    while len(attempt_times(srv, qid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    times = attempt_times(srv, qid)
    assert len(times) >= 3, srv.log_tail(30)
    gaps = [b - a for a, b in zip(times, times[1:3])]
    assert 1.9 <= gaps[0] < 5 < 5.9 <= gaps[1], (gaps, srv.log_tail(60))
    got = wait_attempts(srv, qid, rcpt, 3, 10)
    assert got and got[0] >= 3, show(srv, qid)
    if got[0] == 3:
        assert got[1] - times[2] >= 12.5, (got, times)
    assert not dsns(srv, qid)


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


def submit_raw(srv, mail_args, rcpts, msg):
    """Submit msg from alice with the MAIL parameters mail_args and
    (address, RCPT parameters) pairs; returns the queue id."""
    with srv.submission_authed() as c:
        r = c.cmd(f"MAIL FROM:<{ALICE}>{mail_args}")
        assert r.code == 250, r
        for rcpt, args in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>{args}")
            assert r.code == 250, r
        r = c.data(msg)
        c.quit()
    assert r.code == 250, r
    return re.search(r"queued as ([0-9a-f]{25})", r.text)[1]


def test_wire_and_dsn_parameters_reach_smtp_sink(sink_relay):
    """smtp-sink's dump: the body as sent (dot-stuffed on the wire, so every
    line starting with a dot arrives whole) and the RFC 3461 parameters
    of MAIL (RET, ENVID) and RCPT (NOTIFY, ORCPT) passed on."""
    srv, sink = sink_relay()
    tok = token()
    rcpt = rcpt_for(tok)
    msg = make_message(tok, to=rcpt, body=["Hi", ".", ".x", "..y", "...", "end " + tok])
    envid = f"E{tok[1:12]}"
    qid = submit_raw(srv, f" RET=HDRS ENVID={envid}",
                     [(rcpt, f" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{rcpt}")], msg)
    got = sink.wait(1, 10)
    assert len(got) == 1, srv.log_tail(30)
    dump = got[0]
    head, _, rest = dump.partition(b"\nReceived: from ")
    assert re.search(rb"X-Mail-Args: <" + ALICE.encode() + rb">.* RET=HDRS", head), head
    assert f"ENVID={envid}".encode() in head, head
    rcpt_args = re.search(rb"X-Rcpt-Args: (.*)", head)[1]
    assert rcpt_args.startswith(f"<{rcpt}>".encode()), rcpt_args
    assert b"NOTIFY=SUCCESS,FAILURE" in rcpt_args, rcpt_args
    assert f"ORCPT=rfc822;{rcpt}".encode() in rcpt_args, rcpt_args
    # the dump ends with the message (LF lines) and one empty line
    body = msg.replace(b"\r\n", b"\n")
    assert dump.endswith(body + b"\n"), dump[-300:]
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)


EIGHTBIT_BODY = ["Grüße aus Köln,", "naïve café", ".dotted ünïcode", "end "]


def eightbit_message(tok, rcpt):
    lines = [f"From: <{ALICE}>", f"To: <{rcpt}>", f"Subject: 8bit {tok}",
             f"Message-ID: <{tok}@e2e.test>", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit", ""]
    lines += EIGHTBIT_BODY[:-1] + [EIGHTBIT_BODY[-1] + tok]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_8bit_to_server_with_8bitmime_goes_as_is(sink_relay):
    srv, sink = sink_relay()
    tok = token()
    rcpt = rcpt_for(tok)
    msg = eightbit_message(tok, rcpt)
    submit_raw(srv, " BODY=8BITMIME", [(rcpt, "")], msg)
    got = sink.wait(1, 10)
    assert len(got) == 1, srv.log_tail(30)
    assert b"BODY=8BITMIME" in re.search(rb"X-Mail-Args: (.*)", got[0])[1]
    assert got[0].endswith(msg.replace(b"\r\n", b"\n") + b"\n")


def test_smtputf8_needed_and_missing_bounces(sink_relay):
    """smtp-sink offers no SMTPUTF8: RFC 6531 3.2 gives 553 5.6.7; one DSN,
    nothing sent."""
    srv, sink = sink_relay()
    tok = token()
    rcpt = f"ök{tok[1:9]}@remote.example"
    msg = make_message(tok, to=rcpt)
    qid = submit_raw(srv, " SMTPUTF8", [(rcpt, "")], msg)
    reports = wait_dsns(srv, qid, timeout=10)
    assert len(reports) == 1, srv.log_tail(30)
    # RFC 6533 3: the address type of an internationalized address is
    # utf-8 (how its non-ASCII part is written is queue_dsn.c's business)
    raw = [d for _, d in srv.messages(ALICE) if qid.encode() in d][0]
    assert re.search(rb"Final-Recipient: utf-8; \S*k" + tok[1:9].encode() +
                     rb"@remote.example\r\nAction: failed\r\nStatus: 5.6.7\r\n", raw), raw
    line = srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*codes=553", timeout=5)
    assert line and "SMTPUTF8" in line, line
    assert not sink.transactions()


# -------------------------------------------------------------------------
# RawMX: the extensions a test names, every byte recorded


@pytest.fixture
def raw_relay(dns, postel_factory):
    """make(caps, **config) -> (server, RawMX)."""
    mxs = []

    def make(caps, **overrides):
        port = free_port()
        mx = RawMX(port, caps)
        mxs.append(mx)
        return postel_factory(**relay_config(dns, port, overrides)), mx
    yield make
    for mx in mxs:
        mx.stop()


def test_wire_carries_crlf_and_dot_stuffing(raw_relay):
    """Catalogue item 27: the bytes after DATA are CRLF lines, dot-stuffed
    (RFC 5321 4.5.2), ended by CRLF.CRLF."""
    srv, mx = raw_relay(["PIPELINING", "8BITMIME", "SIZE 1000000"])
    tok = token()
    rcpt = rcpt_for(tok)
    msg = make_message(tok, to=rcpt, body=["Hi", ".", ".x", "..y", "end " + tok])
    submit_raw(srv, "", [(rcpt, "")], msg)
    s = mx.wait_data(10)
    assert s, srv.log_tail(30)
    data = s["data"]
    assert data.endswith(dot_stuff(msg) + b".\r\n"), data[-300:]
    assert b"\n" not in data.replace(b"\r\n", b""), "a bare LF or CR on the wire"
    assert data.count(b"\r") == data.count(b"\n")
    mail = [c for c in s["commands"] if c.startswith(b"MAIL")][0]
    assert re.search(rb" SIZE=\d+", mail), mail


def test_chunking_offered_uses_bdat(raw_relay):
    """RFC 3030: BDAT chunks, the last one BDAT n LAST, no dot-stuffing."""
    srv, mx = raw_relay(["PIPELINING", "8BITMIME", "CHUNKING"])
    tok = token()
    rcpt = rcpt_for(tok)
    msg = make_message(tok, to=rcpt, body=["Hi", ".", ".x", "x" * 20000, "end " + tok])
    qid = submit_raw(srv, "", [(rcpt, "")], msg)
    s = mx.wait_data(10)
    assert s, srv.log_tail(30)
    verbs = [c.split(b" ")[0] for c in s["commands"]]
    assert b"DATA" not in verbs, s["commands"]
    bdats = [c for c in s["commands"] if c.startswith(b"BDAT")]
    assert len(bdats) >= 2 and bdats[-1].endswith(b" LAST"), bdats
    assert all(not b.endswith(b"LAST") for b in bdats[:-1]), bdats
    # not stuffed: the message itself after our Received: header
    assert s["data"].endswith(msg), s["data"][-300:]
    assert s["data"].startswith(b"Received: ")
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)


def test_size_over_remote_limit_bounces_without_sending(raw_relay):
    """RFC 1870 6: the server said it refuses more than SIZE octets: 552
    5.3.4 bounce, and no MAIL command at all."""
    srv, mx = raw_relay(["PIPELINING", "8BITMIME", "SIZE 2000"])
    tok = token()
    rcpt = rcpt_for(tok)
    msg = make_message(tok, to=rcpt, body=["x" * 70] * 60 + ["end " + tok])
    qid = submit_raw(srv, "", [(rcpt, "")], msg)
    reports = wait_dsns(srv, qid, timeout=10)
    assert len(reports) == 1, srv.log_tail(30)
    assert dsn_status(reports[0])[rcpt] == ("failed", "5.3.4"), dsn_status(reports[0])
    with mx.lock:
        cmds = [c for s in mx.sessions for c in s["commands"]]
    assert cmds and not any(c.upper().startswith(b"MAIL") for c in cmds), cmds


def test_8bit_to_server_without_8bitmime_is_converted(sink_relay):
    """smtp-sink -8 hides 8BITMIME. RFC 6152 3: the 8-bit text part goes
    as quoted-printable, MAIL without BODY=8BITMIME, every octet 7-bit,
    and it decodes to the text submitted."""
    srv, sink = sink_relay(["-8"])
    tok = token()
    rcpt = rcpt_for(tok)
    msg = eightbit_message(tok, rcpt)
    qid = submit_raw(srv, " BODY=8BITMIME", [(rcpt, "")], msg)
    got = sink.wait(1, 10)
    assert len(got) == 1, srv.log_tail(30)
    assert b"BODY=" not in re.search(rb"X-Mail-Args: (.*)", got[0])[1]
    dump = got[0]
    assert all(b < 0x80 for b in dump), dump
    # smtp-sink's own fields end with its Received; the dump adds a line
    assert dump.endswith(b"\n\n")
    message = dump.split(b"\nReceived: from ", 1)[1][:-1]
    m = email.message_from_bytes(b"Received: from " + message)
    assert m["Content-Transfer-Encoding"] == "quoted-printable"
    assert m.get_content_charset() == "utf-8"
    text = m.get_payload(decode=True).decode("utf-8")
    want = "\n".join(EIGHTBIT_BODY[:-1] + [EIGHTBIT_BODY[-1] + tok]) + "\n"
    assert text == want, text
    assert max(len(line) for line in message.split(b"\n")) <= 76
    assert srv.wait_for_log(rf"event=relay_8bit_converted id=\"?{qid}", timeout=5)
    assert srv.wait_for_log(rf"event=relay_done queue_id={qid}", timeout=5)
    assert not dsns(srv, qid)


def test_8bit_that_cannot_be_converted_bounces(sink_relay):
    """MIME nested deeper than the converter follows: 554 5.6.3, one DSN."""
    srv, sink = sink_relay(["-8"])
    tok = token()
    rcpt = rcpt_for(tok)
    lines = [f"From: <{ALICE}>", f"To: <{rcpt}>", f"Subject: deep {tok}",
             "MIME-Version: 1.0"]
    for i in range(20):
        lines += [f"Content-Type: multipart/mixed; boundary=b{i}", "", f"--b{i}"]
    lines += ["", "Grüße " + tok]
    msg = ("\r\n".join(lines) + "\r\n").encode()
    qid = submit_raw(srv, " BODY=8BITMIME", [(rcpt, "")], msg)
    reports = wait_dsns(srv, qid, timeout=10)
    assert len(reports) == 1, srv.log_tail(30)
    assert dsn_status(reports[0])[rcpt] == ("failed", "5.6.3"), dsn_status(reports[0])
    assert srv.wait_for_log(rf"event=relay_attempt queue_id={qid} .*too deep", timeout=5)
