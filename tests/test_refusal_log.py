"""Issue 11 item 4: every refusal is logged. One key=value line per refused
MAIL, RCPT, AUTH (with the user name tried, never the password) and message
(DATA, BDAT), with the session id, client address, command and reply code;
POP3 login failures too. The delivery line carries the Message-ID, and
start-up says how many messages wait in the queue."""
import base64
import itertools
import re

from conftest import ALICE, BOB, assert_not_delivered, make_message, token
from pop3_helpers import raw as pop3_raw

REMOTE = "sender@remote.example"
_ips = itertools.count(2)


def fresh_ip():
    """Failed logins slow their address down: each test gets its own."""
    return f"127.0.2.{next(_ips)}"


def reject_line(srv, *fields):
    """The one event=reject line holding every field given."""
    pattern = r"event=reject .*" + ".*".join(re.escape(f) for f in fields)
    line = srv.wait_for_log(pattern)
    assert line is not None, f"no reject line with {fields}:\n" + srv.log_tail(30)
    assert re.search(r"\bsid=\S+ ", line), line
    assert re.search(r"\bip=127\.\S+ ", line), line
    return line


def test_rcpt_refused_logged(postel):
    nobody = f"nobody-{token()[1:10].lower()}@example.org"
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        r = c.cmd(f"RCPT TO:<{nobody}>")
        assert r.code == 550, r
        c.quit()
    reject_line(postel, "cmd=RCPT", "code=550", "enhanced=5.1.1",
                f'from="{REMOTE}"', f'rcpt="<{nobody}>"')


def test_relay_refused_logged(postel):
    far = f"x{token()[1:10].lower()}@elsewhere.example"
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        assert c.cmd(f"RCPT TO:<{far}> NOTIFY=NEVER").code == 554
        c.quit()
    reject_line(postel, "service=smtp", "cmd=RCPT", "code=554", f'rcpt="<{far}>"',
                'reason="Relay access denied"')


def test_mail_refused_logged(postel):
    sender = f"m{token()[1:10].lower()}@example.org"
    with postel.submission() as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}> SIZE=10")
        assert r.code == 530, r
        c.quit()
    reject_line(postel, "service=submission", "cmd=MAIL", "code=530",
                f'from="<{sender}>"', "user=-")


def test_auth_refused_logged_with_name_not_password(postel):
    password = "wrong-" + token()
    with postel.submissions(source=fresh_ip()) as c:
        c.ehlo()
        blob = base64.b64encode(f"\0{ALICE}\0{password}".encode()).decode()
        r = c.cmd(f"AUTH PLAIN {blob}", timeout=30)
        assert r.code == 535, r
        c.quit()
    reject_line(postel, "service=submissions", "cmd=AUTH", "code=535", "enhanced=5.7.8",
                f'user="{ALICE}"')
    assert password not in postel.log()


def test_pop3_login_refused_logged(postel):
    password = "wrong-" + token()
    user = f"u{token()[1:10].lower()}@example.org"
    with pop3_raw(postel, implicit=True, source=fresh_ip()) as c:
        assert c.cmd(f"USER {user}").startswith(b"+OK")
        assert c.cmd(f"PASS {password}", timeout=30).startswith(b"-ERR")
        c.cmd("QUIT")
    reject_line(postel, "service=pop3s", "cmd=PASS", "code=-ERR", f'user="{user}"')
    assert password not in postel.log()


def test_data_refused_logged(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE, body=["a\rb", "end " + tok])
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(msg + b".\r\n")
        assert c.read_reply().code == 550
        c.quit()
    assert_not_delivered(postel, tok)
    reject_line(postel, "cmd=DATA", "code=550", "enhanced=5.6.0", f'from="{REMOTE}"',
                "rcpts=1", "bare CR")


def test_bdat_refused_logged(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE).replace(b"Hello,\r\n", b"Hello,\n")
    sender = f"b{token()[1:10].lower()}@remote.example"
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{sender}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        c.send(f"BDAT {len(msg)} LAST\r\n".encode() + msg)
        assert c.read_reply().code == 550
        c.quit()
    reject_line(postel, "cmd=BDAT", "code=550", f'from="{sender}"', "bare LF")


def test_accepted_commands_not_logged_as_refusals(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE)
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    line = postel.wait_for_log(rf'event=message .*message_id="<{tok}@e2e.test>"')
    assert line is not None, postel.log_tail(20)
    assert not [ln for ln in postel.log().splitlines()
                if "event=reject" in ln and BOB in ln and "code=" in ln
                and "cmd=RCPT" in ln]


def test_generated_message_id_logged(postel):
    tok = token()
    msg = make_message(tok, sender=ALICE, to=BOB, message_id=False)
    with postel.submission_authed() as c:
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    stored = postel.find(BOB, tok)[0]
    mid = re.search(rb"\r\nMessage-ID: (<[^>\r\n]+>)\r\n", stored).group(1).decode()
    assert postel.wait_for_log(rf'event=message .*message_id="{re.escape(mid)}"'), \
        postel.log_tail(20)


def test_startup_logs_queue_status(postel):
    assert postel.wait_for_log(r"event=queue_status waiting=0\b"), postel.log_tail(30)


def test_refusal_lines_capped_per_session(postel_factory):
    """452 to RCPT is no bad command, so a session could write the log
    without end: at most 100 refusal lines, then one line saying so."""
    srv = postel_factory(max_recipients=1)
    with srv.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE}>").code == 250
        assert c.cmd(f"RCPT TO:<{BOB}>").code == 250
        c.send(b"".join(f"RCPT TO:<r{i}@example.org>\r\n".encode() for i in range(150)))
        codes = [r.code for r in c.read_replies(150)]
        assert codes == [452] * 150, codes
        c.quit()
    line = srv.wait_for_log(r"event=reject_log_suppressed .*after=100")
    assert line, srv.log_tail(5)
    sid = re.search(r"\bsid=(\S+)", line)[1]
    rejects = [ln for ln in srv.log().splitlines()
               if f"sid={sid} " in ln and "event=reject " in ln]
    assert len(rejects) == 100, len(rejects)
