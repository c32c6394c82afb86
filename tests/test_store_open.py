"""Issue 8 items 7 and 8, end to end: opening a user costs the same
whatever the mailbox size, and one user's locked index stalls nobody else.

Item 7: each delivery thread and the committer keep a few users open;
a sender that rotates over more recipients than that makes every
delivery open a user again. Such an open must not rescan the Maildir nor
run an integrity check: with one mailbox of a few thousand messages,
rounds of deliveries over 21 recipients in rotation show many user opens
(event=store_user_open, logged at debug) and no event=maildir_scan or
event=index_check after the first round. Work is counted in the log,
never timed.

Item 8 (store side): while another process holds user A's index lock (a
flock on postel-index.sqlite.lock, taken here), a delivery to B and POP3
logins of B and A complete at once in a single worker; A's own delivery
waits, off the event loop, and is accepted when the lock goes.

Loopback only; every wait is bounded."""
import fcntl
import os
import re
import smtplib
import threading
import time

from conftest import ALICE, BOB, USERS, make_message, scaled, token
from pop3_helpers import login

SENDER = "rotate@remote.example"
FILLER = 3000
ROTATION = 20          # extra users, with ALICE: more than a cache holds


def send(srv, to, tok):
    msg = make_message(tok, sender=SENDER, to=to)
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(20)) as s:
        s.sendmail(SENDER, [to], msg)


def send_many(srv, recipients):
    """One message per recipient, in order, over one connection."""
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(20)) as s:
        for to in recipients:
            s.sendmail(SENDER, [to], make_message(token(), sender=SENDER, to=to))


def fill_maildir(srv, address, count):
    """Messages put into new/ by hand, as another MDA would."""
    new = srv.maildir(address) / "new"
    st = new.stat()
    for i in range(count):
        p = new / f"{1600000000 + i}.M{i}P1Q1.filler"
        p.write_bytes(b"Subject: filler %d\nFrom: a@b.example\n\nbody\n" % i)
        os.chown(p, st.st_uid, st.st_gid)


def events(log, name):
    return [line for line in log.splitlines() if f"event={name} " in line + " "]


def test_rotating_recipients_open_users_cheaply(postel_factory):
    srv = postel_factory(workers=1, log_level="debug")
    users = [f"rot{i:02d}@example.org" for i in range(ROTATION)]
    for u in users:
        srv.add_user(u, "pw-" + u)
    send(srv, ALICE, token())
    fill_maildir(srv, ALICE, FILLER)
    rotation = users + [ALICE]

    # round one opens every user for the first time in this worker: the
    # new indexes are built, and ALICE's new/ changed behind the store's
    # back, so it is read once
    send_many(srv, rotation)
    log = srv.log()
    scans = [line for line in events(log, "maildir_scan")
             if ALICE in line and "INBOX" in line]
    assert any(int(re.search(r"files=(\d+)", line)[1]) >= FILLER
               for line in scans), "the dropped files were not scanned:\n" + \
        "\n".join(scans)
    mark = len(log)

    # two more rounds: users are opened again and again, cheaply
    send_many(srv, rotation * 2)
    later = srv.log()[mark:]
    opens = events(later, "store_user_open")
    assert len(opens) >= len(rotation), \
        f"only {len(opens)} user opens: the rotation did not exceed the caches"
    assert events(later, "maildir_scan") == [], "\n".join(events(later, "maildir_scan"))
    assert events(later, "index_check") == [], "\n".join(events(later, "index_check"))
    maildir = srv.maildir(ALICE)
    files = sum(len(os.listdir(maildir / sub)) for sub in ("new", "cur"))
    assert files == FILLER + 4


def test_locked_index_stalls_no_one_else(postel_factory):
    srv = postel_factory(workers=1)
    send(srv, ALICE, token())
    send(srv, BOB, token())
    lock_path = srv.maildir(ALICE) / "postel-index.sqlite.lock"
    holder = open(lock_path, "r+b")
    pending = {}
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)

        def deliver_locked():
            try:
                send(srv, ALICE, pending.setdefault("tok", token()))
                pending["result"] = "ok"
            except Exception as e:  # reported by the main thread
                pending["result"] = repr(e)

        t = threading.Thread(target=deliver_locked, daemon=True)
        t.start()
        # give ALICE's delivery time to reach its commit
        time.sleep(scaled(0.3))

        start = time.monotonic()
        send(srv, BOB, token())
        p = login(srv, BOB, USERS[BOB])
        assert p.stat()[0] == 2
        p.quit()
        # a POP3 login opens the user (a warm open) without the lock
        p = login(srv, ALICE, USERS[ALICE])
        assert p.stat()[0] == 1
        p.quit()
        took = time.monotonic() - start
        assert took < scaled(3), f"others waited {took:.1f} s behind a locked user"
        assert "result" not in pending, f"delivery under the lock: {pending}"
    finally:
        holder.close()  # releases the flock
    t.join(scaled(10))
    assert pending.get("result") == "ok", pending
    assert len(srv.find(ALICE, pending["tok"])) == 1
