"""Issue 11 item 8: mail that cannot leave says so until outbound delivery
exists. A message accepted for another domain is logged as queued with the
reason it waits; "postel queue show ID" prints its envelope and headers and
"postel queue delete ID" removes it; start-up says how many wait; the queue
id is the same in the 250 reply, the log and "postel queue list"."""
import re

from conftest import ALICE, BOB, make_message, token

QID = r"[0-9a-f]{25}"


def queue_remote(srv, tok, rcpts, **kw):
    """Submit one message from alice to rcpts (make_message's keywords
    in kw); returns the queue id the 250 reply names."""
    msg = make_message(tok, sender=ALICE, to=rcpts[0], **kw)
    with srv.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        for rcpt in rcpts:
            assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
        r = c.data(msg)
        c.quit()
    assert r.code == 250, r
    m = re.fullmatch(rf"2.0.0 OK: queued as ({QID})", r.text)
    assert m, f"250 reply does not name the queue id alone: {r.text!r}"
    return m[1]


def test_queued_mail_says_why_and_ids_agree(postel_factory):
    srv = postel_factory()
    tok = token()
    far = f"r{tok[1:9]}@remote.example"
    qid = queue_remote(srv, tok, [far, BOB])
    # the log: the message line and why it waits, with the same id
    assert srv.wait_for_log(rf"event=message .*queue_id={qid}\b"), srv.log_tail(20)
    line = srv.wait_for_log(rf"event=queued queue_id={qid} ")
    assert line and f'rcpt="{far}"' in line, srv.log_tail(20)
    assert 'reason="relay = no"' in line, line
    # the list: the same id
    _, out, _ = srv.cli("queue", "list")
    assert out.split()[0] == qid, out
    assert far in out and BOB not in out, out
    # show: envelope, then the header section (no body)
    _, out, _ = srv.cli("queue", "show", qid)
    assert f"id: {qid}\n" in out, out
    assert f"sender: {ALICE}\n" in out, out
    assert f"recipient: {far} attempts=0\n" in out, out
    assert "status: waiting for the queue runner\n" in out, out
    assert f"\nSubject: e2e test {tok}\n" in out, out
    assert "Received: from " in out, out
    assert f"end {tok}" not in out, "queue show printed the body"
    # start-up says how many wait
    srv.restart()
    assert srv.wait_for_log(r"event=queue_status waiting=1\b"), srv.log_tail(30)
    # delete: gone from the list and the disk; show then fails
    _, out, _ = srv.cli("queue", "delete", qid)
    assert out.strip() == f"deleted {qid}", out
    _, out, _ = srv.cli("queue", "list")
    assert out.strip() == "queue is empty", out
    left = [p for p in srv.all_files_containing(tok) if "/queue/" in str(p)]
    assert left == [], left
    assert len(srv.find(BOB, tok)) == 1   # the local copy stays
    rc, _, err = srv.cli("queue", "show", qid, check=False)
    assert rc == 1 and "no queue entry" in err, (rc, err)
    rc, _, err = srv.cli("queue", "delete", qid, check=False)
    assert rc == 1 and "no queue entry" in err, (rc, err)


def test_local_mail_reply_is_not_a_queue_id(postel):
    """Local-only mail never enters the queue: its 250 does not claim a
    queue id that "postel queue" would not know."""
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    with postel.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        r = c.data(msg)
        c.quit()
    assert r.code == 250 and "queued as" not in r.text, r


def test_queue_show_delete_bad_ids(postel):
    for bad in ("../../etc/passwd", "ABC", "0" * 24, "g" * 25):
        rc, _, err = postel.cli("queue", "show", bad, check=False)
        assert rc == 1 and "invalid queue id" in err, (bad, rc, err)
        rc, _, err = postel.cli("queue", "delete", bad, check=False)
        assert rc == 1 and "invalid queue id" in err, (bad, rc, err)
    rc, _, err = postel.cli("queue", "show", check=False)
    assert rc == 2, (rc, err)
