"""IMAP's login penalty (TESTING.md item 19, issue 9): failed LOGINs and
AUTHENTICATE PLAINs from one address are slowed like SMTP's and POP3's
(tests/test_auth_penalty.py): the wait grows with the failures (none for
the first, then 1 s doubling: src/auth/authfail.h), a right password
from the penalised address waits it out too (item 33) before its OK,
and another address is answered at once.

Each test uses client addresses of its own (127.0.4.N); 127.0.0.2 is the
bystander that never fails."""
import time

from conftest import plain_auth_blob
from imap_helpers import IMAPRaw, new_user, status_of

OTHER_IP = "127.0.0.2"


def conn(srv, ip):
    return IMAPRaw(srv.imaps_port, tls=True, source=ip, timeout=30)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def login(user, pw):
    return f'LOGIN "{user}" "{pw}"'


def authenticate(user, pw):
    return f"AUTHENTICATE PLAIN {plain_auth_blob(user, pw)}"


def try_login(c, command, user, pw):
    tagged, _ = c.command(command(user, pw), timeout=30)
    return tagged


def fast_limit(srv, user, pw, command):
    """How long an unpenalised right login takes here (slow under
    sanitizers), plus 0.6 s; from the bystander address."""
    best = None
    for _ in range(2):
        with conn(srv, OTHER_IP) as c:
            tagged, t = timed(lambda: try_login(c, command, user, pw))
            assert status_of(tagged) == "OK", tagged
            best = t if best is None else min(best, t)
    return best + 0.6


def penalty_schedule(srv, ip, command):
    """Three wrong passwords then the right one, each on a connection of
    its own from ip: the waits grow (0, 1, 2, 4 s) and the right one is
    answered OK only after its wait; the bystander is not slowed."""
    user, pw = new_user(srv)
    fast = fast_limit(srv, user, pw, command)
    waits = []
    for i in range(3):
        with conn(srv, ip) as c:
            tagged, t = timed(lambda: try_login(c, command, user, f"wrong-{i}"))
            # RFC 9051 6.2.3 / RFC 5530: NO [AUTHENTICATIONFAILED]
            assert tagged.split()[1:3] == [b"NO", b"[AUTHENTICATIONFAILED]"], tagged
            waits.append(t)
    assert waits[0] < fast, waits
    assert waits[1] >= 0.9, f"second failure not slowed: {waits}"
    assert waits[2] >= 1.8, f"third failure not slowed more: {waits}"
    with conn(srv, ip) as right:
        tag = right.tag()
        t0 = time.monotonic()
        right.send(f"{tag} {command(user, pw)}\r\n".encode())
        # meanwhile the bystander logs in at once
        with conn(srv, OTHER_IP) as c:
            tagged, t = timed(lambda: try_login(c, command, user, pw))
            assert status_of(tagged) == "OK" and t < fast, (tagged, t)
        tagged, _ = right.read_tagged(tag, timeout=30)
        t_right = time.monotonic() - t0
        assert status_of(tagged) == "OK", tagged
        assert t_right >= 3.5, \
            f"right password after three failures answered after {t_right:.2f}s"
        tagged, _ = right.command("SELECT INBOX")
        assert status_of(tagged) == "OK", tagged
    print(f"waits={[round(w, 2) for w in waits]} right={t_right:.2f} fast<{fast:.2f}")
    assert srv.wait_for_log(rf"event=auth .*ip={ip}\b", timeout=5)


def test_login_failures_slowed(postel):
    penalty_schedule(postel, "127.0.4.1", login)


def test_authenticate_plain_failures_slowed(postel):
    penalty_schedule(postel, "127.0.4.2", authenticate)
