"""Issue 11 item 7: bare LF on submission. On 587/465, after AUTH, lines
ending in a bare LF are taken as CRLF in DATA and BDAT alike (scripts and
PHP send them; Postfix's smtpd_forbid_bare_newline = normalize); a bare CR
stays refused; only CRLF.CRLF ends DATA, so a "." line ending in or after a
bare LF is message text (TESTING.md item 3 still holds). Port 25 keeps
refusing bare LFs."""
import pytest

from conftest import ALICE, BOB, assert_not_delivered, token

REMOTE = "sender@remote.example"


def lf_message(tok, body=None):
    """A message whose lines all end in a bare LF (as a script writes it)."""
    lines = [f"From: <{ALICE}>", f"To: <{BOB}>", f"Subject: bare LF {tok}",
             "Date: Thu, 01 Jan 2026 12:00:00 +0000", f"Message-ID: <{tok}@e2e.test>",
             ""] + (body or ["Hello,", "..a stuffed dot line", "", "end " + tok])
    return ("\n".join(lines) + "\n").encode()


def crlf(msg):
    return msg.replace(b"\n", b"\r\n")


def stored(srv, address, tok):
    found = srv.find(address, tok)
    assert len(found) == 1, f"{len(found)} messages with {tok}"
    return found[0]


def send_data(c, msg, end=b"\r\n.\r\n"):
    assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
    assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(msg + end)
    return c.read_reply()


def test_data_bare_lf_on_submission_stored_as_crlf(postel):
    tok = token()
    msg = lf_message(tok)
    with postel.submission_authed() as c:
        # the last line ends in a bare LF; CRLF.CRLF still ends DATA
        r = send_data(c, msg)
        assert r.code == 250, r
        c.quit()
    data = stored(postel, BOB, tok)
    # dot-unstuffed like a CRLF line; every line ends in CRLF (the store
    # holds no CR of its own, so a stray CR would have failed messages())
    want = crlf(msg).replace(b"\r\n..a stuffed", b"\r\n.a stuffed") + b"\r\n"
    assert data.endswith(want), data


def test_bdat_bare_lf_on_submissions_stored_as_crlf(postel):
    tok = token()
    msg = lf_message(tok)
    with postel.submissions() as c:
        c.ehlo()
        assert c.auth_plain(ALICE, postel.users[ALICE]).code == 235
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        half = len(msg) // 2
        c.send(f"BDAT {half}\r\n".encode() + msg[:half])
        assert c.read_reply().code == 250
        c.send(f"BDAT {len(msg) - half} LAST\r\n".encode() + msg[half:])
        r = c.read_reply()
        assert r.code == 250, r
        c.quit()
    # BDAT has no dot-stuffing: the dots stay as sent
    assert stored(postel, BOB, tok).endswith(crlf(msg))


def test_lf_dot_lf_does_not_end_data_on_submission(postel):
    tok, tok2 = token(), token()
    smuggled = (f"MAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n"
                f"Subject: smuggled {tok2}\r\n\r\nsmuggled\r\n").encode()
    for fake_end in (b"\n.\n", b"\n.\r\n", b"\r\n.\n"):
        msg = lf_message(tok, body=["before"]) + b"x" + fake_end + smuggled
        with postel.submission_authed() as c:
            r = send_data(c, msg, end=b".\r\n")
            assert r.code == 250, f"{fake_end!r}: {r!r}"
            # exactly one reply: nothing smuggled was read as a command
            assert c.cmd("NOOP").code == 250
            assert c.read_available(0.3) == b""
            c.quit()
    found = postel.find(BOB, tok)
    assert len(found) == 3, found
    for data in found:
        assert b"\r\n.\r\nMAIL FROM:" in data, data
        assert b"\n" not in data.replace(b"\r\n", b"")
    assert sorted(postel.find(BOB, tok2)) == sorted(found)  # only inside the text


def test_bare_cr_still_refused_on_submission(postel):
    tok = token()
    msg = lf_message(tok, body=["a\rb", "end " + tok])
    with postel.submission_authed() as c:
        r = send_data(c, msg)
        assert r.code == 550, r
        assert r.enhanced == "5.6.0", r
        c.quit()
    assert_not_delivered(postel, tok)


@pytest.mark.parametrize("mode", ["data", "bdat"])
def test_bare_lf_still_refused_on_port_25(postel, mode):
    tok = token()
    msg = lf_message(tok)
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        if mode == "data":
            assert c.cmd("DATA").code == 354
            c.send(msg + b"\r\n.\r\n")
        else:
            c.send(f"BDAT {len(msg)} LAST\r\n".encode() + msg)
        r = c.read_reply()
        assert r.code == 550, r
        c.quit()
    assert_not_delivered(postel, tok)
