"""Time limits (issue 8 item 12): a session that has not logged in within
`login_timeout` is closed with a reply (POP3 on 110, submission on 587;
not SMTP on 25, where other servers never log in), however busy it keeps
itself with CAPA or NOOP; and DATA/BDAT get `smtp_timeout` plus one second
per `smtp_min_data_rate` octets, so a client trickling one byte per idle
period is cut off (421 4.4.2), while a message sent at a normal pace with
pauses shorter than `smtp_timeout` still goes through."""
import time

import pytest

from conftest import ALICE, BOB, ConnectionClosed, make_message, running_postel, \
    scaled, token
from pop3_helpers import POP3Raw, deliver, new_user


@pytest.fixture(scope="module")
def srv():
    with running_postel(login_timeout=2, smtp_timeout=2, smtp_min_data_rate=100,
                        allow_plaintext_auth="yes") as s:
        yield s


def keep_busy(send, read, seconds):
    """Send a harmless command every 0.3 s for up to `seconds`; returns
    every line read until the server closed, or None if it never did."""
    got = []
    deadline = time.monotonic() + scaled(seconds)
    while time.monotonic() < deadline:
        try:
            send()
            got.append(read())
        except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
            return got
        time.sleep(0.3)
    return None


def cut_off_while_busy(c, command, read):
    """Send `command` every 0.3 s until the server closes (at most 8 s);
    returns the last reply, after checking it came at login_timeout."""
    t0 = time.monotonic()
    replies = keep_busy(lambda: c.send(command), read, 8)
    assert replies is not None, "an unauthenticated session outlived login_timeout"
    assert 1.5 <= time.monotonic() - t0 < scaled(5)
    return replies[-1]


def test_pop3_login_timeout_despite_capa(srv):
    c = POP3Raw(srv.pop3_port)
    last = cut_off_while_busy(c, b"NOOP\r\n", lambda: c.line(timeout=5))
    assert last == b"-ERR [SYS/TEMP] Login timeout; closing connection", last
    assert srv.wait_for_log(r"event=login_timeout .*service=pop3")


def test_pop3_logged_in_not_cut(srv):
    user, password = new_user(srv)
    deliver(srv, user)
    c = POP3Raw(srv.pop3_port)
    assert c.cmd(f"USER {user}").startswith(b"+OK")
    assert c.cmd(f"PASS {password}").startswith(b"+OK")
    time.sleep(3)
    assert c.cmd("STAT").startswith(b"+OK 1 ")
    assert c.cmd("QUIT").startswith(b"+OK")


def test_submission_login_timeout(srv):
    c = srv.submission()
    c.ehlo()
    last = cut_off_while_busy(c, b"NOOP\r\n", lambda: c.read_reply(timeout=5))
    assert last.code == 421 and last.enhanced == "4.7.0", last
    assert "Authentication timeout" in last.text


def test_submission_logged_in_not_cut(srv):
    c = srv.submission()
    c.ehlo()
    r = c.auth_plain(ALICE, srv.users[ALICE])
    assert r.code == 235, r
    for _ in range(2):       # 3 s: past login_timeout
        time.sleep(1.5)
        assert c.cmd("NOOP").code == 250
    c.quit()


def test_port25_has_no_login_timeout(srv):
    c = srv.smtp()
    c.ehlo()
    for _ in range(8):       # 3.2 s: past login_timeout, each pause < smtp_timeout
        time.sleep(0.4)
        assert c.cmd("NOOP").code == 250
    c.quit()


def start_data(srv):
    c = srv.smtp()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{BOB}>").code == 250
    assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
    return c


def trickle(c, seconds, chunk=b"x"):
    """One octet every 0.4 s (below smtp_timeout=2 s, so the idle timer
    alone never fires). Returns what the server said when it closed, or
    None if it kept the session for `seconds`."""
    deadline = time.monotonic() + scaled(seconds)
    while time.monotonic() < deadline:
        try:
            c.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return c.read_available(0.5)
        data = c.read_available(0.4)
        if data:
            try:
                return data + c.read_until_eof(2)
            except TimeoutError:
                return data
    return None


def test_data_trickle_cut_off(srv):
    c = start_data(srv)
    assert c.cmd("DATA").code == 354
    t0 = time.monotonic()
    said = trickle(c, 10)
    assert said is not None, "a DATA trickle of 2.5 octets/s kept the session for 10 s"
    assert said.startswith(b"421 4.4.2 Data rate too low"), said
    # smtp_timeout (2 s) plus a few octets / 100 per s
    assert 1.8 <= time.monotonic() - t0 < scaled(5)
    assert srv.wait_for_log(r"event=request_timeout ")


def test_bdat_trickle_cut_off(srv):
    c = start_data(srv)
    c.send(b"BDAT 1000 LAST\r\n")
    said = trickle(c, 10)
    assert said is not None, "a BDAT trickle kept the session for 10 s"
    assert said.startswith(b"421 4.4.2 Data rate too low"), said


def test_data_at_normal_pace_with_pauses_accepted(srv):
    """Pauses shorter than smtp_timeout between 40 KB pieces: each piece
    buys 400 s at 100 octets/s, so the deadline never comes near."""
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE,
                       body=[f"line {i} " + "y" * 60 for i in range(2000)] + ["end " + tok])
    c = start_data(srv)
    assert c.cmd("DATA").code == 354
    pieces = [msg[i:i + 40000] for i in range(0, len(msg), 40000)]
    for piece in pieces:
        c.send(piece)
        time.sleep(1.2)
    c.send(b".\r\n")
    r = c.read_reply()
    assert r.code == 250, r
    assert len(srv.find(ALICE, tok)) == 1
    c.quit()
