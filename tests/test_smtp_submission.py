"""Submission on 587 (STARTTLS, then AUTH) and 465 (implicit TLS): AUTH is
required and only offered under TLS, senders are restricted to the user's
own addresses, Date/Message-ID are added when missing, the Received header
names the TLS version, mail for other domains is queued. Clients: smtplib,
swaks, curl, raw sockets."""
import smtplib
import subprocess

from conftest import (ALICE, BOB, USERS, check_delivered, make_message, scaled,
                      token, client_tls_context, plain_auth_blob, assert_not_delivered)

SUBMISSION_EXTS = ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                   "CHUNKING", "DSN", "SMTPUTF8", "AUTH")


def test_587_ehlo_before_tls_has_no_auth(postel):
    with postel.submission() as c:
        r = c.ehlo()
        kw = r.keywords()
        assert "STARTTLS" in kw, r.lines
        assert "AUTH" not in kw, f"AUTH offered before STARTTLS: {r.lines}"
        c.quit()


def test_587_ehlo_after_starttls(postel):
    with postel.submission() as c:
        c.ehlo()
        c.starttls()
        r = c.ehlo()
        kw = r.keywords()
        for ext in SUBMISSION_EXTS:
            assert ext in kw, f"{ext} missing: {r.lines}"
        assert "STARTTLS" not in kw, r.lines
        mechs = set(kw["AUTH"].upper().split()[1:])
        assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= mechs, kw["AUTH"]
        c.quit()


def test_465_ehlo(postel):
    with postel.submissions() as c:
        assert c.greeting.code == 220
        r = c.ehlo()
        kw = r.keywords()
        for ext in SUBMISSION_EXTS:
            assert ext in kw, f"{ext} missing: {r.lines}"
        assert "STARTTLS" not in kw, r.lines
        c.quit()


def test_587_mail_before_auth_plaintext(postel):
    with postel.submission() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530 and r.enhanced == "5.7.0", r
        c.quit()


def test_587_mail_before_auth_after_starttls(postel):
    with postel.submission() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530 and r.enhanced == "5.7.0", r
        # and no mail to a local user sneaks through without AUTH either
        r = c.cmd(f"RCPT TO:<{BOB}>")
        assert r.code in (503, 530), r
        c.quit()


def test_465_mail_before_auth(postel):
    with postel.submissions() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530 and r.enhanced == "5.7.0", r
        c.quit()


def test_587_auth_before_tls_refused(postel):
    with postel.submission() as c:
        c.ehlo()
        r = c.cmd(f"AUTH PLAIN {plain_auth_blob(ALICE, USERS[ALICE])}")
        assert r.code == 538, r
        r = c.cmd("AUTH LOGIN")
        assert r.code == 538, r
        # still not authenticated
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 530, r
        c.quit()


def test_smtplib_starttls_auth_local_delivery(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    with smtplib.SMTP("127.0.0.1", postel.submission_port, timeout=scaled(10)) as s:
        s.ehlo("client.example.net")
        s.starttls(context=client_tls_context())
        s.ehlo("client.example.net")
        s.login(ALICE, USERS[ALICE])
        assert s.sendmail(ALICE, [BOB], msg) == {}
    fields, _ = check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.3", submission=True)
    assert b"cipher=" in fields[2] or b"TLS_" in fields[2], fields[2]


def test_submission_adds_date_and_message_id(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB, date=False, message_id=False)
    with postel.submission_authed(ALICE) as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        r = c.data(msg)
        assert r.code == 250 and r.enhanced == "2.0.0", r
        c.quit()
    fields, _ = check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.3", submission=True)
    names = [f.split(b":")[0].lower() for f in fields[3:]]
    assert sorted(names) == [b"date", b"message-id"]


def test_submission_adds_only_missing_header(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB, date=True, message_id=False)
    with postel.submission_authed(ALICE) as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, BOB, msg, ALICE, submission=True)


def test_port25_adds_no_date_or_message_id(postel):
    tok = token()
    msg = make_message(tok, sender="x@remote.example", date=False, message_id=False)
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<x@remote.example>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, ALICE, msg, "x@remote.example", submission=False)


def test_smtp_ssl_465(postel):
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE)
    with smtplib.SMTP_SSL("127.0.0.1", postel.submissions_port, timeout=scaled(10),
                          context=client_tls_context()) as s:
        s.login(BOB, USERS[BOB])
        assert s.sendmail(BOB, [ALICE], msg) == {}
    check_delivered(postel, ALICE, msg, BOB, tls="TLSv1.3", submission=True)


def test_sender_must_be_own_address(postel):
    with postel.submission_authed(ALICE) as c:
        for other in (BOB, "someone@remote.example", "ALICE@example.org.evil"):
            r = c.cmd(f"MAIL FROM:<{other}>")
            assert r.code == 553 and r.enhanced == "5.7.1", (other, r)
        c.quit()
    with postel.submissions() as c:
        c.ehlo()
        assert c.auth_plain(BOB, USERS[BOB]).code == 235
        r = c.cmd(f"MAIL FROM:<{ALICE}>")
        assert r.code == 553 and r.enhanced == "5.7.1", r
        r = c.cmd("MAIL FROM:<postmaster@example.org>")
        assert r.code == 553 and r.enhanced == "5.7.1", r
        c.quit()


def test_sender_alias_pointing_to_user_allowed(postel):
    tok = token()
    msg = make_message(tok, sender="postmaster@example.org", to=BOB)
    with postel.submission_authed(ALICE) as c:
        r = c.cmd("MAIL FROM:<postmaster@example.org>")
        assert r.code == 250, r
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, BOB, msg, "postmaster@example.org", submission=True)


def test_remote_recipient_is_queued(postel):
    tok = token()
    rcpt = f"friend-{tok[1:9]}@remote.example"
    msg = make_message(tok, sender=ALICE, to=f"{rcpt}, {BOB}")
    with postel.submission_authed(ALICE) as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, r
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        r = c.data(msg)
        assert r.code == 250, r
        c.quit()
    check_delivered(postel, BOB, msg, ALICE, submission=True)
    _, out, _ = postel.cli("queue", "list")
    assert rcpt in out, f"queue list does not show {rcpt}:\n{out}"
    # the queued copy is on disk in the data directory, with the message
    files = [p for p in postel.all_files_containing(tok) if "/mail/" not in str(p)]
    assert files, "queued message not found in the data directory"


def test_port25_relay_allowed_after_auth(postel):
    tok = token()
    rcpt = f"relay-{tok[1:9]}@remote.example"
    msg = make_message(tok, sender=ALICE, to=rcpt)
    with postel.smtp() as c:
        c.ehlo()
        c.starttls()
        r = c.ehlo()
        assert "AUTH" in r.keywords(), r.lines
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, r
        assert c.data(msg).code == 250
        c.quit()
    _, out, _ = postel.cli("queue", "list")
    assert rcpt in out, out


def test_swaks_starttls_587(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    f = tmp_path / "m.eml"
    # swaks ends DATA with CRLF.CRLF after the file: leave out the last CRLF
    f.write_bytes(msg[:-2])
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{postel.submission_port}",
                        "--tls", "--auth", "PLAIN", "--auth-user", ALICE,
                        "--auth-password", USERS[ALICE], "--from", ALICE, "--to", BOB,
                        "--data", f"@{f}", "--timeout", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.3", submission=True)


def test_swaks_tls_on_connect_465_login(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE, date=False)
    f = tmp_path / "m.eml"
    # swaks ends DATA with CRLF.CRLF after the file: leave out the last CRLF
    f.write_bytes(msg[:-2])
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{postel.submissions_port}",
                        "--tlsc", "--auth", "LOGIN", "--auth-user", BOB,
                        "--auth-password", USERS[BOB], "--from", BOB, "--to", ALICE,
                        "--data", f"@{f}", "--timeout", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, ALICE, msg, BOB, tls="TLSv1.3", submission=True)


def test_swaks_pipelining(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=f"{BOB}, postmaster@example.org")
    f = tmp_path / "m.eml"
    # swaks ends DATA with CRLF.CRLF after the file: leave out the last CRLF
    f.write_bytes(msg[:-2])
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{postel.submission_port}",
                        "--tls", "--pipeline", "--auth", "PLAIN", "--auth-user", ALICE,
                        "--auth-password", USERS[ALICE], "--from", ALICE,
                        "--to", f"{BOB},postmaster@example.org",
                        "--data", f"@{f}", "--timeout", "20"],
                       capture_output=True, timeout=scaled(30))
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0, out
    assert "PIPELINING" in out
    check_delivered(postel, BOB, msg, ALICE, submission=True)
    check_delivered(postel, ALICE, msg, ALICE, submission=True)


def test_curl_starttls_587(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB)
    f = tmp_path / "m.eml"
    f.write_bytes(msg)
    p = subprocess.run(["curl", "-sS", "--url", f"smtp://127.0.0.1:{postel.submission_port}",
                        "--ssl-reqd", "-k", "--mail-from", ALICE, "--mail-rcpt", BOB,
                        "--upload-file", str(f), "--user", f"{ALICE}:{USERS[ALICE]}",
                        "--max-time", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, BOB, msg, ALICE, tls="TLSv1.3", submission=True)


def test_curl_smtps_465(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=BOB, to=ALICE, message_id=False)
    f = tmp_path / "m.eml"
    f.write_bytes(msg)
    p = subprocess.run(["curl", "-sS", "--url", f"smtps://127.0.0.1:{postel.submissions_port}",
                        "-k", "--mail-from", BOB, "--mail-rcpt", ALICE,
                        "--upload-file", str(f), "--user", f"{BOB}:{USERS[BOB]}",
                        "--max-time", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, ALICE, msg, BOB, tls="TLSv1.3", submission=True)


def test_curl_wrong_password_fails(postel, tmp_path):
    tok = token()
    f = tmp_path / "m.eml"
    f.write_bytes(make_message(tok, sender=ALICE, to=BOB))
    p = subprocess.run(["curl", "-sS", "--url", f"smtp://127.0.0.1:{postel.submission_port}",
                        "--ssl-reqd", "-k", "--mail-from", ALICE, "--mail-rcpt", BOB,
                        "--upload-file", str(f), "--user", f"{ALICE}:wrong",
                        # its own address: the failure delay must not slow others
                        "--interface", "127.0.0.9", "--max-time", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 67, p.stdout.decode() + p.stderr.decode()  # login denied
    assert_not_delivered(postel, tok)
