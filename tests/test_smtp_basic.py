"""SMTP on port 25 (MX): greeting, EHLO, local delivery to users, aliases and
a catch-all, byte-exact storage with the added trace headers, dot-stuffing,
pipelining, BDAT, 8BITMIME/SMTPUTF8/DSN parameters, refusals (unknown users,
relay), logs. Clients: smtplib, swaks, curl and raw sockets."""
import pathlib
import re
import smtplib
import socket
import subprocess

import pytest

from conftest import (ALICE, BOB, HOSTNAME, SMTPConn, check_delivered, make_message,
                      scaled, token, dot_stuff, assert_not_delivered)

REMOTE_SENDER = "sender@remote.example"


def test_greeting(postel):
    with postel.smtp() as c:
        assert c.greeting.code == 220
        assert c.greeting.raw.startswith(f"220 {HOSTNAME} ".encode()), c.greeting
        c.quit()


def test_ehlo_extensions_before_tls(postel):
    with postel.smtp() as c:
        r = c.ehlo("client.example.net")
        assert r.lines[0].startswith(HOSTNAME), r
        kw = r.keywords()
        for ext in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
                    "STARTTLS", "CHUNKING", "DSN", "SMTPUTF8"):
            assert ext in kw, f"{ext} missing from {r.lines}"
        assert kw["SIZE"].split()[1:] == ["52428800"], kw["SIZE"]
        assert "AUTH" not in kw, f"AUTH offered before TLS: {r.lines}"
        c.quit()


def test_helo(postel):
    with postel.smtp() as c:
        r = c.cmd("HELO client.example.net")
        assert r.code == 250, r
        assert HOSTNAME in r.text
        c.quit()


def test_smtplib_to_user(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to=ALICE)
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(10)) as s:
        refused = s.sendmail(REMOTE_SENDER, [ALICE], msg)
        assert refused == {}
    fields, _ = check_delivered(postel, ALICE, msg, REMOTE_SENDER)
    received = fields[2]
    assert b"127.0.0.1" in received
    assert b"version=" not in received, "TLS reported on a plaintext session"


def test_smtplib_to_alias(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to="postmaster@example.org")
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(10)) as s:
        s.sendmail(REMOTE_SENDER, ["postmaster@example.org"], msg)
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)
    assert postel.find(BOB, tok) == []


def test_smtplib_to_catch_all(postel):
    tok = token()
    rcpt = "anything-at-all@catch.example"
    msg = make_message(tok, sender=REMOTE_SENDER, to=rcpt)
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(10)) as s:
        s.sendmail(REMOTE_SENDER, [rcpt], msg)
    check_delivered(postel, BOB, msg, REMOTE_SENDER)
    assert postel.find(ALICE, tok) == []


def test_domain_is_case_insensitive(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER)
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        r = c.cmd("RCPT TO:<alice@EXAMPLE.ORG>")
        assert r.code == 250, r
        r = c.data(msg)
        assert r.code == 250, r
        c.quit()
    assert len(postel.find(ALICE, tok)) == 1


def test_two_recipients_each_get_one_copy(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to=f"{ALICE}, {BOB}")
    with smtplib.SMTP("127.0.0.1", postel.smtp_port, timeout=scaled(10)) as s:
        assert s.sendmail(REMOTE_SENDER, [ALICE, BOB], msg) == {}
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)
    check_delivered(postel, BOB, msg, REMOTE_SENDER)


def test_null_sender(postel):
    tok = token()
    msg = make_message(tok, sender="mailer-daemon@remote.example")
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd("MAIL FROM:<>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, ALICE, msg, "")


def test_unknown_local_user(postel):
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        r = c.cmd("RCPT TO:<nosuchuser@example.org>")
        assert r.code == 550 and r.enhanced == "5.1.1", r
        # the transaction goes on with the good recipient
        r = c.cmd(f"RCPT TO:<{ALICE}>")
        assert r.code == 250, r
        c.quit()


@pytest.mark.parametrize("rcpt", ["someone@elsewhere.example",
                                  "alice@example.org.evil.example",
                                  "alice%example.org@elsewhere.example",
                                  "@elsewhere.example:alice@example.org.evil"])
def test_relay_refused_without_auth(postel, rcpt):
    tok = token()
    with postel.smtp() as c:
        c.ehlo()
        # even a local sender address does not open the relay
        assert c.cmd(f"MAIL FROM:<{ALICE}>").code == 250
        r = c.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code in (554, 501, 550) and r.code != 250, r
        if "@" in rcpt and not rcpt.startswith("@"):
            assert r.code == 554 and r.enhanced == "5.7.1", r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        c.quit()
    assert_not_delivered(postel, tok)
    rc, out, _ = postel.cli("queue", "list")
    assert "elsewhere.example" not in out


def test_vrfy_expn_help_noop_rset(postel):
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd(f"VRFY {ALICE}")
        assert r.code == 252, r
        r = c.cmd("VRFY nosuchuser")
        assert r.code == 252, r
        r = c.cmd("NOOP")
        assert r.code == 250 and r.enhanced, r
        r = c.cmd("HELP")
        assert r.code in (214, 211), r
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        r = c.cmd("RSET")
        assert r.code == 250, r
        # RSET ended the transaction
        r = c.cmd(f"RCPT TO:<{ALICE}>")
        assert r.code == 503, r
        c.quit()


def test_sequence_errors(postel):
    with postel.smtp() as c:
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>")
        assert r.code == 503 and r.enhanced == "5.5.1", r
        c.ehlo()
        r = c.cmd(f"RCPT TO:<{ALICE}>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code == 503, r
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        r = c.cmd("FROBNICATE")
        assert r.code in (500, 502) and r.enhanced and r.enhanced.startswith("5.5."), r
        c.quit()


def test_replies_carry_enhanced_codes(postel):
    with postel.smtp() as c:
        for line in ["EHLO client.example.net", f"MAIL FROM:<{REMOTE_SENDER}>",
                     f"RCPT TO:<{ALICE}>", "RCPT TO:<nobody@example.org>", "RSET",
                     "NOOP", f"VRFY {ALICE}"]:
            r = c.cmd(line)
            if line.startswith("EHLO"):
                continue
            assert r.enhanced is not None, f"{line!r} -> {r!r}"
            assert r.enhanced[0] == str(r.code)[0], r
        c.quit()


def test_raw_dot_unstuffing_byte_exact(postel):
    tok = token()
    body = [".", "..", "...", ".x", " .", "", "a.", "\t.", "end " + tok]
    msg = make_message(tok, sender=REMOTE_SENDER, body=body)
    wire = dot_stuff(msg)
    assert wire.count(b"\r\n..") >= 4
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(wire + b".\r\n")
        r = c.read_reply()
        assert r.code == 250 and r.enhanced == "2.0.0", r
        c.quit()
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)


def test_pipelining_one_write(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to=f"{ALICE}, {BOB}")
    with postel.smtp() as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{REMOTE_SENDER}>\r\nRCPT TO:<{ALICE}>\r\n"
               f"RCPT TO:<nobody@example.org>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
        rs = c.read_replies(5)
        assert [r.code for r in rs] == [250, 250, 550, 250, 354], rs
        c.send(dot_stuff(msg) + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
        rs = c.read_replies(4)
        assert [r.code for r in rs] == [250, 250, 250, 221], rs
        c.read_until_eof(5)
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)
    check_delivered(postel, BOB, msg, REMOTE_SENDER)


def test_two_transactions_one_session(postel):
    toks = [token(), token()]
    with postel.smtp() as c:
        c.ehlo()
        for tok in toks:
            msg = make_message(tok, sender=REMOTE_SENDER)
            assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
            assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
            assert c.data(msg).code == 250
        c.quit()
    for tok in toks:
        check_delivered(postel, ALICE, make_message(tok, sender=REMOTE_SENDER), REMOTE_SENDER)


def test_bdat_chunks_byte_exact(postel):
    """RFC 3030: BDAT data is taken as is; no dot-unstuffing, no end marker."""
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER,
                       body=["..not unstuffed", ".", "line", "end " + tok])
    chunks = [msg[:7], msg[7:100], msg[100:]]
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        for i, chunk in enumerate(chunks):
            last = " LAST" if i == len(chunks) - 1 else ""
            c.send(f"BDAT {len(chunk)}{last}\r\n".encode() + chunk)
            r = c.read_reply()
            assert r.code == 250, (i, r)
        c.quit()
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)


def test_bdat_pipelined_with_zero_last(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER)
    with postel.smtp() as c:
        c.ehlo()
        c.send(f"MAIL FROM:<{REMOTE_SENDER}>\r\nRCPT TO:<{BOB}>\r\n"
               f"BDAT {len(msg)}\r\n".encode() + msg + b"BDAT 0 LAST\r\nQUIT\r\n")
        rs = c.read_replies(5)
        assert [r.code for r in rs] == [250, 250, 250, 250, 221], rs
    check_delivered(postel, BOB, msg, REMOTE_SENDER)


def test_8bitmime_body_byte_exact(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER,
                       extra_headers=["Content-Type: text/plain; charset=utf-8",
                                      "Content-Transfer-Encoding: 8bit"],
                       body=["Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e", "end " + tok])
    # any octet but NUL, CR and LF is allowed in an 8BITMIME body, UTF-8 or not
    msg = msg.replace(b"end ", b"caf\xe9 \x7f\xff end ")
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> BODY=8BITMIME").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)


def test_smtputf8(postel):
    tok = token()
    sender = "j\u00f6rg@r\u00e9mote.example"
    msg = make_message(tok, sender=sender, subject="Gr\u00fc\u00dfe")
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}> SMTPUTF8 BODY=8BITMIME")
        assert r.code == 250, r
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    check_delivered(postel, ALICE, msg, sender)


def test_utf8_address_without_smtputf8_refused(postel):
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<j\u00f6rg@remote.example>")
        assert r.code in (501, 553, 555), r
        c.quit()


def test_dsn_parameters(postel):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER)
    with postel.smtp() as c:
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> RET=HDRS ENVID=QQ+2B314159")
        assert r.code == 250, r
        r = c.cmd(f"RCPT TO:<{ALICE}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;alice@example.org")
        assert r.code == 250, r
        r = c.cmd(f"RCPT TO:<{BOB}> NOTIFY=NEVER,SUCCESS")
        assert r.code == 501, r
        r = c.cmd(f"RCPT TO:<{BOB}> ORCPT=rfc822;bad+ZZxtext")
        assert r.code == 501, r
        r = c.cmd(f"RCPT TO:<{BOB}> NOTIFY=SOMETIMES")
        assert r.code == 501, r
        assert c.data(msg).code == 250
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> RET=EVERYTHING")
        assert r.code == 501, r
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> RET=FULL RET=HDRS")
        assert r.code == 501, r
        r = c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> X-UNKNOWN=1")
        assert r.code == 555, r
        c.quit()
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)
    assert postel.find(BOB, tok) == []


def test_swaks_to_alias(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to="postmaster@example.org")
    f = tmp_path / "msg.eml"
    # swaks ends DATA with CRLF.CRLF after the file: leave out the last CRLF
    f.write_bytes(msg[:-2])
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{postel.smtp_port}",
                        "--from", REMOTE_SENDER, "--to", "postmaster@example.org",
                        "--helo", "swaks.example.net", "--data", f"@{f}",
                        "--timeout", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, ALICE, msg, REMOTE_SENDER)


def test_curl_to_user(postel, tmp_path):
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER, to=BOB)
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    p = subprocess.run(["curl", "-sS", "--url", f"smtp://127.0.0.1:{postel.smtp_port}/curl.example.net",
                        "--mail-from", REMOTE_SENDER, "--mail-rcpt", BOB,
                        "--upload-file", str(f), "--max-time", "20"],
                       capture_output=True, timeout=scaled(30))
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    check_delivered(postel, BOB, msg, REMOTE_SENDER)


LOG_KV = re.compile(r'(?:\s*[A-Za-z_][A-Za-z0-9_.-]*=(?:"(?:[^"\\]|\\.)*"|\S*))+\s*$')


def test_log_lines_key_value(postel):
    tok = token()
    sender = f"log-{tok[1:9]}@remote.example"
    msg = make_message(tok, sender=sender)
    with postel.smtp() as c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{sender}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    # the connection line, the transaction line and the disconnect line
    # all share the session id
    line = postel.wait_for_log(re.escape(sender))
    assert line is not None, postel.log_tail()
    m = re.search(r"\bsid=(\S+)", line)
    assert m, line
    sid = m.group(1)
    assert postel.wait_for_log(rf"(?=.*\bsid={re.escape(sid)}(\s|$))(?=.*disconnect)") \
        is not None, postel.log_tail()
    assert postel.wait_for_log(rf"(?=.*\bsid={re.escape(sid)}(\s|$))(?=.*\bip=127\.0\.0\.1\b)") \
        is not None, postel.log_tail()
    lines = [x for x in postel.log().splitlines()
             if re.search(rf"\bsid={re.escape(sid)}(\s|$)", x)]
    assert len(lines) >= 3, lines
    for x in lines:
        kv = x[x.index("sid="):]
        assert LOG_KV.match(kv), f"not key=value: {x!r}"
    # the Message-ID is logged on purpose (issue 11 item 4); nothing else
    log = re.sub(r'message_id="<[^"]*>"', "", postel.log())
    assert tok not in log, "message content in the log"


# shared/ sits beside the checkout (in CI too); /work/shared on developer machines
CORPUS = next((p for p in (pathlib.Path(__file__).resolve().parents[2] / "shared/corpus/mime",
                           pathlib.Path("/work/shared/corpus/mime")) if p.is_dir()),
              pathlib.Path("/work/shared/corpus/mime"))


def crlf(data):
    """Every line end (CRLF, bare CR, bare LF) as CRLF, and a final CRLF."""
    lines = re.split(rb"\r\n|\r|\n", data)
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def without_return_path(msg):
    """msg as final delivery stores it: Return-Path fields of the header
    section removed (RFC 5321 4.4; the server writes its own)."""
    out, in_header, dropping = [], True, False
    for line in msg.splitlines(keepends=True):
        if in_header:
            if line[:1] in (b" ", b"\t"):
                if dropping:
                    continue
            else:
                m = re.match(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:", line)
                in_header = m is not None
                dropping = in_header and m.group(1).lower() == b"return-path"
                if dropping:
                    continue
        out.append(line)
    return b"".join(out)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared MIME corpus not present")
@pytest.mark.parametrize("mode", ["data", "bdat"])
def test_mime_corpus_round_trip(postel, mode):
    """Every real-world message of the shared corpus, line ends normalised
    to CRLF, is stored byte-exact (less client Return-Path fields); one with a NUL is refused whole; lines
    over RFC 5321's 1000 octets may be refused, but never stored cut."""
    failures = []
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) > 100
    with postel.smtp(timeout=30) as c:
        c.ehlo()
        for f in files:
            tok = token()
            msg = f"X-E2E-Token: {tok}\r\n".encode() + crlf(f.read_bytes())
            longest = max(len(x) for x in msg.split(b"\r\n"))
            assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}> BODY=8BITMIME").code == 250
            assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
            if mode == "data":
                assert c.cmd("DATA").code == 354
                c.send(dot_stuff(msg) + b".\r\n")
            else:
                c.send(f"BDAT {len(msg)} LAST\r\n".encode() + msg)
            r = c.read_reply()
            if b"\x00" in msg:
                # NUL is allowed neither in 8BITMIME nor in a BDAT body
                # without BINARYMIME (RFC 6152, RFC 3030)
                if r.code != 550:
                    failures.append(f"{f.name}: NUL accepted: {r!r}")
                assert_not_delivered(postel, tok)
                continue
            if r.code != 250:
                if longest > 998 and r.code >= 500:
                    assert_not_delivered(postel, tok)
                    continue
                failures.append(f"{f.name}: {r!r}")
                c.cmd("RSET")
                continue
            found = postel.find(ALICE, tok)
            if len(found) != 1 or not found[0].endswith(without_return_path(msg)):
                failures.append(f"{f.name}: stored {len(found)} copies / not byte-exact")
        c.quit()
    assert not failures, "\n".join(failures)


def test_ipv6_listener(postel_factory):
    """A listen list with two addresses, one of them IPv6 loopback."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        port6 = probe.getsockname()[1]
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    from conftest import free_ports
    port4 = free_ports(1)[0]
    srv = postel_factory(smtp_listen=f"127.0.0.1:{port4},[::1]:{port6}")
    tok = token()
    msg = make_message(tok, sender=REMOTE_SENDER)
    c = SMTPConn(port6, host="::1")
    with c:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{REMOTE_SENDER}>").code == 250
        assert c.cmd(f"RCPT TO:<{ALICE}>").code == 250
        assert c.data(msg).code == 250
        c.quit()
    fields, _ = check_delivered(srv, ALICE, msg, REMOTE_SENDER)
    assert b"[IPv6:::1]" in fields[2], fields[2]
    with SMTPConn(port4) as c:
        assert c.greeting.code == 220
        c.quit()
