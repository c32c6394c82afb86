"""Issue 10: the queue side of the relay. A worker that commits a queue
entry tells the master (QUEUE_ENTRY_COMMITTED on its channel), which logs
it until a queue runner listens; "postel queue show" prints each
recipient's state."""
import re

from conftest import ALICE, BOB, make_message, token

QID = r"[0-9a-f]{25}"


def submit(srv, tok, rcpts):
    msg = make_message(tok, sender=ALICE, to=rcpts[0])
    with srv.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        for rcpt in rcpts:
            assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
        r = c.data(msg)
        c.quit()
    assert r.code == 250, r
    m = re.search(rf"queued as ({QID})", r.text)
    return m[1] if m else None


def test_committed_entry_reaches_the_master(postel_factory):
    srv = postel_factory()
    tok = token()
    qid = submit(srv, tok, [f"r{tok[1:9]}@remote.example", BOB])
    assert qid, "mail for a remote domain was not queued"
    line = srv.wait_for_log(rf"event=queue_entry_committed child=\d+ queue_id={qid}\b")
    assert line, srv.log_tail(20)
    # local-only mail queues nothing and wakes nobody
    tok2 = token()
    assert submit(srv, tok2, [BOB]) is None
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


def test_queue_show_per_recipient_state(postel):
    """An entry written before per-recipient results (version 1) is still
    read; a version 2 entry shows each recipient's state, its last reply
    and MX, the next attempt and the lease."""
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
