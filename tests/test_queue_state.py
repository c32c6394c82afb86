"""Issue 10: the queue side of the relay. A worker that commits a queue
entry tells the master (QUEUE_ENTRY_COMMITTED on its channel), which logs
it until a queue runner listens; "postel queue show" prints each
recipient's state; "postel queue bounce" sends the RFC 3464 report through
local delivery or the queue."""
import re

from conftest import ALICE, BOB, make_message, token
from test_queue_cli import QID, queue_remote


def test_committed_entry_reaches_the_master(postel_factory):
    srv = postel_factory()
    tok = token()
    qid = queue_remote(srv, tok, [f"r{tok[1:9]}@remote.example", BOB])
    line = srv.wait_for_log(rf"event=queue_entry_committed child=\d+ queue_id={qid}\b")
    assert line, srv.log_tail(20)
    # local-only mail queues nothing and wakes nobody
    with srv.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert "queued" not in c.data(make_message(token(), sender=ALICE, to=BOB)).text
        c.quit()
    assert srv.wait_for_log(r"event=message .*queue_id=- ", timeout=5)
    assert len(re.findall("event=queue_entry_committed", srv.log())) == 1


V1 = """postel-envelope 1
id={id}
received=1796000000
size=3
sender=old@example.net
smtputf8=no
body=7bit
ret=none
rcpt=a@far.example
rcpt-attempts=0
rcpt-next-attempt=0
end
"""

V2 = """postel-envelope 2
id={id}
received=1796000000
size=3
sender=new@example.net
smtputf8=no
body=7bit
ret=hdrs
lease-owner=runner-1
lease-expires=1796000600
rcpt=d@far.example
rcpt-attempts=2
rcpt-next-attempt=1796003600
rcpt-state=deferred
rcpt-reply-code=451
rcpt-reply-status=4.7.1
rcpt-reply-text=greylisted,%20try%20later
rcpt-mx=mx1.far.example
rcpt=ok@far.example
rcpt-attempts=1
rcpt-next-attempt=0
rcpt-state=delivered
rcpt-reply-code=250
rcpt-reply-status=2.0.0
rcpt-reply-text=queued
rcpt-mx=mx1.far.example
rcpt=bad@far.example
rcpt-attempts=1
rcpt-next-attempt=0
rcpt-state=failed
rcpt-reply-code=550
rcpt-reply-status=5.1.1
rcpt-reply-text=no%20such%20user
rcpt-mx=mx2.far.example
end
"""


def put_entry(srv, qid, envelope):
    q = srv.datadir / "queue"
    (q / "msg" / qid).write_bytes(b"x\r\n")
    (q / "env" / qid).write_text(envelope.format(id=qid))


def test_queue_show_per_recipient_state(postel_factory):
    """An entry written before per-recipient results (version 1) is still
    read; a version 2 entry shows each recipient's state, its last reply
    and MX, the next attempt and the lease."""
    postel = postel_factory()
    old, new = "00000000000000000000000a1", "00000000000000000000000b2"
    put_entry(postel, old, V1)
    put_entry(postel, new, V2)
    _, out, _ = postel.cli("queue", "list")
    assert old in out and new in out, out
    _, out, _ = postel.cli("queue", "show", old)
    assert "recipient: a@far.example attempts=0\n  state: pending\n" in out, out
    _, out, _ = postel.cli("queue", "show", new)
    assert ("recipient: d@far.example attempts=2\n  state: deferred "
            "next-attempt=2026-11-30T01:53:20Z mx=mx1.far.example "
            "reply=\"451 4.7.1 greylisted, try later\"\n") in out, out
    assert ("recipient: ok@far.example attempts=1\n  state: delivered "
            "mx=mx1.far.example reply=\"250 2.0.0 queued\"\n") in out, out
    assert ("recipient: bad@far.example attempts=1\n  state: failed "
            "mx=mx2.far.example reply=\"550 5.1.1 no such user\"\n") in out, out
    assert "lease: runner-1 until 2026-11-30T01:03:20Z\n" in out, out
    # a lease that has not expired is respected: bounce refuses the entry
    held = "00000000000000000000000c3"
    put_entry(postel, held, V2.replace("lease-expires=1796000600", "lease-expires=4102444800"))
    rc, _, err = postel.cli("queue", "bounce", held, check=False)
    assert rc == 1 and "being delivered right now" in err, (rc, err)
    _, out, _ = postel.cli("queue", "show", held)
    assert "lease: runner-1 until 2100-01-01T00:00:00Z\n" in out, out
    # an expired one is taken over: new@example.net is not local, so the
    # DSN (for d@, failed now, and bad@, failed before) is queued
    _, out, _ = postel.cli("queue", "bounce", new)
    assert re.fullmatch(rf"bounced {new} \(DSN queued as {QID}\)", out.strip()), out


def test_queue_bounce_sends_a_dsn_python_can_read(postel):
    """postel queue bounce: the local sender gets an RFC 3464 report in
    her INBOX (RFC 3461 RET=HDRS, ENVID and ORCPT honoured) and the entry
    is gone; a recipient with NOTIFY=NEVER is not reported."""
    import email
    import email.policy
    tok = token()
    far, quiet = f"r{tok[1:9]}@remote.example", f"q{tok[1:9]}@remote.example"
    msg = make_message(tok, sender=ALICE, to=far)
    with postel.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}> RET=HDRS ENVID=env+2B{tok[1:6]}").code == 250
        assert c.cmd(f"RCPT TO:<{far}> NOTIFY=FAILURE,DELAY "
                     f"ORCPT=rfc822;Orig+2B{tok[1:6]}@remote.example").code == 250
        assert c.cmd(f"RCPT TO:<{quiet}> NOTIFY=NEVER").code == 250
        r = c.data(msg)
        c.quit()
    qid = re.search(rf"queued as ({QID})", r.text)[1]
    _, out, err = postel.cli("queue", "bounce", qid)
    assert out.strip() == f"bounced {qid} (DSN delivered)", out
    assert f"event=dsn kind=failure queue_id={qid} " in err, err
    _, out, _ = postel.cli("queue", "list")
    assert qid not in out, out
    dsns = [d for _, d in postel.messages(ALICE) if b"MAILER-DAEMON" in d and tok.encode() in d]
    assert len(dsns) == 1, postel.messages(ALICE)
    m = email.message_from_bytes(dsns[0], policy=email.policy.compat32)
    assert m["Return-Path"] == "<>"
    assert m["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.org>"
    assert m["To"] == f"<{ALICE}>"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    parts = m.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert far in parts[0].get_payload() and quiet not in parts[0].get_payload()
    # message/delivery-status: per-message block, then one per recipient
    blocks = parts[1].get_payload()
    assert len(blocks) == 2, blocks
    assert blocks[0]["Reporting-MTA"] == "dns; mail.example.org"
    assert blocks[0]["Original-Envelope-Id"] == f"env+{tok[1:6]}"
    assert blocks[1]["Final-Recipient"] == f"rfc822; {far}"
    assert blocks[1]["Original-Recipient"] == f"rfc822; Orig+{tok[1:6]}@remote.example"
    assert blocks[1]["Action"] == "failed"
    assert blocks[1]["Status"] == "5.0.0"
    # RET=HDRS: the header section, not the body
    hdrs = parts[2].get_payload()
    assert f"Subject: e2e test {tok}" in hdrs and f"end {tok}" not in hdrs, hdrs


def test_queue_bounce_to_a_remote_sender_is_queued_with_null_sender(postel_factory):
    """A DSN for a remote sender (mail forwarded by an alias) is queued to
    that sender with the null reverse-path (RFC 5321 4.5.5) and
    NOTIFY=NEVER; a bounce of that DSN sends nothing (never to <>)."""
    srv = postel_factory()
    tok = token()
    fwd, sender = f"fwd{tok[1:7]}@example.org", f"s{tok[1:7]}@sender.example"
    srv.cli("alias", "add", fwd, f"far{tok[1:7]}@remote.example")
    msg = make_message(tok, sender=sender, to=fwd)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{sender}>").code == 250
        assert c.cmd(f"RCPT TO:<{fwd}>").code == 250
        r = c.data(msg)
        c.quit()
    qid = re.search(rf"queued as ({QID})", r.text)[1]
    _, out, _ = srv.cli("queue", "bounce", qid)
    m = re.fullmatch(rf"bounced {qid} \(DSN queued as ({QID})\)", out.strip())
    assert m, out
    dsn = m[1]
    _, out, _ = srv.cli("queue", "show", dsn)
    assert "sender: <>\n" in out, out
    assert f"recipient: {sender} attempts=0\n  state: pending\n" in out, out
    assert "\nAuto-Submitted: auto-replied\n" in out, out
    raw = (srv.datadir / "queue" / "env" / dsn).read_text()
    assert "rcpt-notify=never\n" in raw, raw
    _, out, _ = srv.cli("queue", "bounce", dsn)
    assert out.strip() == f"bounced {dsn} (no DSN: null sender)", out
    _, out, _ = srv.cli("queue", "list")
    assert out.strip() == "queue is empty", out
