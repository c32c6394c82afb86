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
