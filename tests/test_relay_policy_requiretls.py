"""REQUIRETLS (RFC 8689) on the server side: advertised in EHLO only once
the session is encrypted (STARTTLS on 25 and 587, implicit TLS on 465),
MAIL FROM ... REQUIRETLS accepted only over TLS, and the flag kept in the
queue envelope (shown by `postel queue show`) so the runner can honour it."""
import re

from conftest import ALICE, USERS, make_message, token

QID = r"[0-9A-Za-z]{25}"


def _queued_id(reply):
    m = re.search(rf"queued as ({QID})", reply.text)
    assert m, reply
    return m[1]


def test_requiretls_advertised_only_under_tls(postel):
    with postel.smtp() as c:
        assert "REQUIRETLS" not in c.ehlo().keywords()
        c.starttls()
        assert "REQUIRETLS" in c.ehlo().keywords()
        c.quit()
    with postel.submission() as c:
        assert "REQUIRETLS" not in c.ehlo().keywords()
        c.starttls()
        assert "REQUIRETLS" in c.ehlo().keywords()
        c.quit()
    with postel.submissions() as c:
        assert "REQUIRETLS" in c.ehlo().keywords()
        c.quit()


def test_requiretls_refused_in_plaintext(postel):
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}> REQUIRETLS")
        assert r.code == 555 and r.enhanced == "5.5.4", r
        c.quit()


def test_requiretls_takes_no_value(postel):
    with postel.submission_authed(ALICE) as c:
        r = c.cmd(f"MAIL FROM:<{ALICE}> REQUIRETLS=yes")
        assert r.code == 501, r
        c.quit()


def test_requiretls_kept_in_queue_envelope(postel):
    tok = token()
    far = f"rt{tok[1:9]}@remote.example"
    plain = f"pl{tok[1:9]}@remote.example"
    msg = make_message(tok, sender=ALICE, to=far)
    ids = {}
    for rcpt, param in ((far, " REQUIRETLS"), (plain, "")):
        with postel.submission_authed(ALICE) as c:
            r = c.cmd(f"MAIL FROM:<{ALICE}>{param}")
            assert r.code == 250, r
            assert c.cmd(f"RCPT TO:<{rcpt}>").code == 250
            r = c.data(msg)
            assert r.code == 250, r
            ids[rcpt] = _queued_id(r)
            c.quit()
    _, out, _ = postel.cli("queue", "show", ids[far])
    assert "requiretls: yes\n" in out, out
    _, out, _ = postel.cli("queue", "show", ids[plain])
    assert "requiretls" not in out, out
    assert USERS[ALICE] not in out
