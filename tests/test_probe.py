"""`postel probe` against Postel itself (the SMTP and POP3 ports it serves
today; IMAP is not there yet, so probe must report those ports as
failing), a closed port, a port that accepts and never speaks, and small
fake servers with an expired certificate, a certificate for another name,
no STARTTLS, plaintext AUTH before TLS and a hostile greeting. Asserts the
details, the summary table, the advice, --json and the exit status."""
import json
import os
import pty
import re
import poplib
import select
import socket
import ssl
import subprocess
import time

import pytest

from conftest import ALICE, HOSTNAME, POSTEL_BIN, USERS, free_ports, scaled
from probe_fakes import (FakeServer, ProbeCA, imap_handler, server_context,
                         silent, smtp_handler)


def run_probe(*args, timeout=30, password=None):
    """Runs probe; password (for --user) is written to its stdin."""
    p = subprocess.run([POSTEL_BIN, "probe", *args], capture_output=True,
                       timeout=scaled(timeout),
                       input=None if password is None else (password + "\n").encode(),
                       stdin=subprocess.DEVNULL if password is None else None)
    out = p.stdout.decode("utf-8", "replace")
    return p.returncode, out, p.stderr.decode("utf-8", "replace")


def probe_json(*args, timeout=30, password=None):
    rc, out, err = run_probe("--json", *args, timeout=timeout, password=password)
    doc = json.loads(out)
    assert doc["exit_status"] == rc, (rc, out, err)
    return rc, doc


def by_service(doc):
    return {p["service"]: p for p in doc["ports"]}


def table_row(out, service):
    """The summary-table row of service, split into cells."""
    rows = [l for l in out.splitlines() if re.match(rf"^{service}\s+\d+\s", l)]
    assert len(rows) == 1, out
    return rows[0].split()


def advice_of(out, service):
    lines = [l for l in out.splitlines() if l.startswith(f"- {service} (port ")]
    assert len(lines) == 1, out
    return lines[0]


def postel_ports(srv, imap=True):
    ports = (f"smtp={srv.smtp_port},submission={srv.submission_port},"
             f"submissions={srv.submissions_port},pop3={srv.pop3_port},"
             f"pop3s={srv.pop3s_port}")
    if imap:
        ports += f",imap={srv.imap_port},imaps={srv.imaps_port}"
    return ports


def trusted(srv):
    return ["--cafile", str(srv.cert_path), "--servername", HOSTNAME]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return ProbeCA(tmp_path_factory.mktemp("probe-ca"))


@pytest.fixture
def fakes():
    started = []

    def make(handle):
        s = FakeServer(handle)
        started.append(s)
        return s
    yield make
    for s in started:
        s.close()


# --------------------------------------------------------------------------
# usage


def test_help_and_listed():
    rc, out, _ = run_probe("--help")
    assert rc == 0
    assert "--ports" in out and "--timeout" in out and "--json" in out
    p = subprocess.run([POSTEL_BIN, "--help"], capture_output=True, timeout=10)
    assert b"probe" in p.stdout


@pytest.mark.parametrize("args", [
    [], ["a", "b"], ["--ports", "nosuch", "h"], ["--ports", "smtp,smtp", "h"],
    ["--ports", "imaps=0", "h"], ["--ports", "imaps=70000", "h"], ["--ports", "", "h"],
    ["--timeout", "0", "h"], ["--timeout", "abc", "h"], ["--timeout", "301", "h"],
    ["--bogus", "h"], ["--timeout"], ["--login-plaintext", "h"], ["--user", "", "h"],
])
def test_usage_errors_exit_2(args):
    rc, out, err = run_probe(*args)
    assert rc == 2, (out, err)
    assert err.startswith("postel probe: "), err
    assert out == ""


# --------------------------------------------------------------------------
# against Postel


def test_postel_all_seven_ports_work(postel):
    """Issue 9: postel probe against Postel finds all seven ports working."""
    rc, out, err = run_probe("--ports", postel_ports(postel), *trusted(postel),
                             "127.0.0.1")
    assert rc == 0, out + err
    assert "\x1b" not in out  # not a terminal: no color
    for service in ("smtp", "submission", "submissions", "pop3", "pop3s", "imap", "imaps"):
        row = table_row(out, service)
        assert row[2] == "ok", row
        assert "TLSv1.3" in row, row
        assert "PLAIN" in row and "LOGIN" in row, row
    assert table_row(out, "submission")[5] == "STARTTLS"
    assert table_row(out, "submissions")[5] == "implicit"
    assert table_row(out, "pop3")[5] == "STARTTLS"
    assert table_row(out, "pop3s")[5] == "implicit"
    assert table_row(out, "imap")[5] == "STARTTLS"
    assert table_row(out, "imaps")[5] == "implicit"
    assert "USER/PASS" in table_row(out, "pop3")
    assert "220 mail.example.org ESMTP" in out
    assert "+OK Postel POP3 server ready" in out
    assert re.search(r"chain +verified", out)
    assert re.search(rf"name +matches {HOSTNAME}", out)
    assert "Advice:" not in out
    assert "* OK [CAPABILITY IMAP4rev1" in out
    assert out.rstrip().endswith("All 7 probed services work.")
    assert "login test" not in out


def test_postel_json(postel):
    rc, doc = probe_json("--ports", postel_ports(postel), *trusted(postel), "127.0.0.1")
    assert rc == 0
    assert doc["failed"] == 0 and doc["servername"] == HOSTNAME
    assert doc["advice"] is None
    ports = by_service(doc)
    assert list(ports) == ["smtp", "submission", "submissions", "pop3", "pop3s", "imap",
                           "imaps"]
    sub = ports["submission"]
    assert sub["status"] == "ok" and sub["port"] == postel.submission_port
    assert "STARTTLS" in sub["capabilities_before_tls"]
    # RFC 3207/8314 done right: no AUTH before TLS on 587, AUTH after
    assert sub["mechanisms_before_tls"] == []
    assert {"PLAIN", "LOGIN"} <= set(sub["mechanisms_after_tls"])
    assert sub["tls"]["mode"] == "starttls"
    cert = sub["tls"]["certificate"]
    assert cert["subject"] == f"CN={HOSTNAME}"
    assert cert["chain_verified"] and cert["name_matches"]
    assert cert["days_left"] > 300
    assert sub["advice"] is None and sub["warnings"] == []
    assert ports["submissions"]["tls"]["mode"] == "implicit"
    assert ports["submissions"]["capabilities_before_tls"] == []
    assert ports["smtp"]["connect_ms"] >= 0
    # RFC 2595: POP3 offers no login before STLS, SASL after
    pop3 = ports["pop3"]
    assert pop3["status"] == "ok" and "STLS" in pop3["capabilities_before_tls"]
    assert pop3["mechanisms_before_tls"] == []
    assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= set(pop3["mechanisms_after_tls"])
    assert pop3["warnings"] == []
    assert ports["pop3s"]["tls"]["mode"] == "implicit"
    # RFC 9051 6.2.3: LOGINDISABLED before STARTTLS, SASL after
    imap = ports["imap"]
    assert imap["status"] == "ok" and "STARTTLS" in imap["capabilities_before_tls"]
    assert imap["mechanisms_before_tls"] == []
    assert {"PLAIN", "LOGIN", "SCRAM-SHA-256"} <= set(imap["mechanisms_after_tls"])
    assert ports["imaps"]["tls"]["mode"] == "implicit"


def test_closed_imap_ports_fail_with_advice(postel):
    """All seven services, the IMAP ones on closed ports: those fail with
    advice naming the alternative; SMTP and POP3 work."""
    closed = free_ports(2)
    ports = postel_ports(postel, imap=False) + f",imap={closed[0]},imaps={closed[1]}"
    rc, out, _ = run_probe("--ports", ports, *trusted(postel), "127.0.0.1")
    assert rc == 1
    for service in ("imap", "imaps"):
        row = table_row(out, service)
        assert row[2:4] == ["FAIL", "refused"], row
    for service in ("submission", "pop3", "pop3s"):
        assert table_row(out, service)[2] == "ok"
    adv = advice_of(out, "imaps")
    assert "Nothing accepts connections" in adv
    assert f"the alternative, imap (port {closed[0]}), fails too" in adv
    assert out.rstrip().endswith("2 of 7 probed services fail.")
    rc, doc = probe_json("--ports", ports, *trusted(postel), "127.0.0.1")
    assert rc == 1 and doc["failed"] == 2
    imap = by_service(doc)["imap"]
    assert imap["failed_stage"] == "connect" and imap["connect"] == "refused"
    assert "imaps" in imap["advice"]


def test_postel_selfsigned_untrusted_and_wrong_name(postel):
    """Without --cafile the self-signed certificate is not trusted; probed
    as 127.0.0.1 its name does not match either."""
    rc, out, _ = run_probe("--ports", f"submissions={postel.submissions_port}",
                           "--servername", HOSTNAME, "127.0.0.1")
    assert rc == 1
    assert table_row(out, "submissions")[2:3] == ["FAIL"]
    assert "untrusted" in table_row(out, "submissions")
    assert "NOT verified: self-signed certificate" in out
    assert "not signed by a trusted authority" in advice_of(out, "submissions")
    rc, doc = probe_json("--ports", f"submission={postel.submission_port}", "127.0.0.1")
    sub = by_service(doc)["submission"]
    assert rc == 1 and sub["failed_stage"] == "certificate"
    assert sub["tls"]["certificate"]["name_matches"] is False
    assert "does not name 127.0.0.1" in sub["advice"]


def test_shared_certificate_cause_said_once(postel):
    """One self-signed certificate on every port is one line of advice,
    not one per port; on port 25 it is a warning (opportunistic TLS)."""
    args = ["--ports", postel_ports(postel), "--servername", HOSTNAME, "127.0.0.1"]
    rc, out, _ = run_probe(*args)
    assert rc == 1
    advice = [l for l in out.splitlines() if l.startswith("- ")]
    assert len(advice) == 1, out
    assert advice[0].startswith(
        f"- submission, submissions, pop3, pop3s, imap, imaps (ports {postel.submission_port}, "
        f"{postel.submissions_port}, {postel.pop3_port}, {postel.pop3s_port}, "
        f"{postel.imap_port}, {postel.imaps_port}): "
        "The certificate is not signed by a trusted authority"), advice[0]
    assert table_row(out, "smtp")[2] == "warning"
    assert out.rstrip().endswith("6 of 7 probed services fail.")
    rc, doc = probe_json(*args)
    assert [c["services"] for c in doc["causes"]] == \
        [["submission", "submissions", "pop3", "pop3s", "imap", "imaps"]]


def test_smtp_selfsigned_certificate_is_a_warning(postel):
    """MTAs deliver over opportunistic TLS (RFC 7435) whatever the
    certificate: on port 25 it is a warning, not a failure."""
    rc, doc = probe_json("--ports", f"smtp={postel.smtp_port}", "--servername",
                         HOSTNAME, "127.0.0.1")
    smtp = by_service(doc)["smtp"]
    assert rc == 0, smtp
    assert smtp["status"] == "warning" and smtp["failed_stage"] is None
    assert smtp["tls"]["certificate"]["chain_verified"] is False
    assert any("certificate not trusted: self-signed certificate" in w and
               "opportunistic TLS (RFC 7435)" in w for w in smtp["warnings"]), smtp
    assert smtp["advice"] is None


def test_unresolvable_name_said_once():
    """A name that does not resolve stops every port: one line."""
    rc, out, _ = run_probe("--timeout", "2", "--ports", "smtp,submission,imaps",
                           "nosuch.invalid", timeout=60)
    assert rc == 1
    advice = [l for l in out.splitlines() if l.startswith("- ")]
    assert len(advice) == 1, out
    assert advice[0].startswith("- smtp, submission, imaps (ports 25, 587, 993): ")
    assert "does not resolve" in advice[0] or "got no answer" in advice[0]
    assert "instead" not in advice[0]
    assert out.rstrip().endswith("3 of 3 probed services fail.")


# --------------------------------------------------------------------------
# closed and silent ports


def test_closed_port_refused_with_alternate(postel):
    closed = free_ports(1)[0]
    rc, out, _ = run_probe("--ports", f"submission={closed},submissions="
                           f"{postel.submissions_port}", *trusted(postel), "127.0.0.1")
    assert rc == 1
    assert table_row(out, "submission")[2:4] == ["FAIL", "refused"]
    adv = advice_of(out, "submission")
    assert f"Nothing accepts connections on port {closed}" in adv
    assert f"use submissions (port {postel.submissions_port}) instead: it works" in adv
    assert "connect: Connection refused" in out


def test_nothing_answers_overall_advice():
    closed = free_ports(3)
    ports = f"smtp={closed[0]},submission={closed[1]},imaps={closed[2]}"
    rc, out, _ = run_probe("--ports", ports, "127.0.0.1")
    assert rc == 1
    assert "- No probed port of 127.0.0.1 accepts connections" in out
    rc, doc = probe_json("--ports", ports, "127.0.0.1")
    assert doc["advice"].startswith("No probed port of 127.0.0.1")
    assert doc["failed"] == 3


def test_silent_ports_time_out_concurrently(fakes):
    a, b = fakes(silent), fakes(silent)
    start = time.monotonic()
    rc, doc = probe_json("--timeout", "1", "--ports",
                         f"submission={a.port},imaps={b.port}", "127.0.0.1")
    elapsed = time.monotonic() - start
    assert rc == 1
    # one second each, at the same time
    assert elapsed < scaled(2.5), elapsed
    ports = by_service(doc)
    sub, imaps = ports["submission"], ports["imaps"]
    assert sub["connect"] == "ok" and sub["failed_stage"] == "greeting"
    assert sub["error"] == "no greeting: timed out"
    assert "never greeted" in sub["advice"]
    assert imaps["failed_stage"] == "tls"
    assert imaps["error"] == "TLS handshake failed: timed out"
    assert "TLS handshake failed" in imaps["advice"]


# --------------------------------------------------------------------------
# certificates


def test_expired_certificate(ca, fakes):
    cert, key = ca.issue("expired", HOSTNAME, HOSTNAME, -1)
    srv = fakes(imap_handler(server_context(cert, key), implicit=True))
    args = ["--ports", f"imaps={srv.port}", "--cafile", str(ca.ca),
            "--servername", HOSTNAME, "127.0.0.1"]
    rc, out, _ = run_probe(*args)
    assert rc == 1
    row = table_row(out, "imaps")
    assert row[2] == "FAIL" and "EXPIRED" in row
    assert re.search(r"expires .*\(EXPIRED [12] days ago\)", out), out
    assert "renew it" in advice_of(out, "imaps")
    # the capabilities after TLS are still reported
    assert "AUTH=PLAIN" in out
    rc, doc = probe_json(*args)
    imaps = by_service(doc)["imaps"]
    c = imaps["tls"]["certificate"]
    assert c["days_left"] < 0 and c["chain_verified"] is False
    assert c["verify_error"] == "certificate has expired"
    assert c["issuer"] == "CN=Postel Probe Test CA"
    assert imaps["failed_stage"] == "certificate"
    assert imaps["mechanisms_after_tls"] == ["PLAIN"]


def test_wrong_name_certificate_starttls(ca, fakes):
    """A name mismatch lists the names the certificate is for (its SANs)."""
    cert, key = ca.issue("other", "other.example.net",
                         ["other.example.net", "mx.other.example.net"], 30)
    srv = fakes(smtp_handler(server_context(cert, key)))
    args = ["--ports", f"submission={srv.port}", "--cafile", str(ca.ca),
            "--servername", HOSTNAME, "127.0.0.1"]
    rc, out, _ = run_probe(*args)
    assert rc == 1
    assert "wrong name" in " ".join(table_row(out, "submission"))
    assert re.search(rf"name +does NOT match {HOSTNAME}", out)
    assert re.search(r"names +other\.example\.net, mx\.other\.example\.net", out), out
    assert re.search(r"chain +verified", out)
    adv = advice_of(out, "submission")
    assert f"does not name {HOSTNAME}; it names other.example.net, " \
        "mx.other.example.net." in adv, adv
    rc, doc = probe_json(*args)
    cert_doc = by_service(doc)["submission"]["tls"]["certificate"]
    assert cert_doc["names"] == ["other.example.net", "mx.other.example.net"]


def test_valid_certificate_from_test_ca(ca, fakes):
    cert, key = ca.issue("good", HOSTNAME, HOSTNAME, 30)
    ctx = server_context(cert, key)
    imap = fakes(imap_handler(ctx, implicit=False))
    rc, doc = probe_json("--ports", f"imap={imap.port}", "--cafile", str(ca.ca),
                         "--servername", HOSTNAME, "127.0.0.1")
    assert rc == 0, doc
    p = by_service(doc)["imap"]
    assert p["status"] == "ok"
    assert "LOGINDISABLED" in p["capabilities_before_tls"]
    assert p["plaintext_login_before_tls"] is False
    assert p["mechanisms_after_tls"] == ["PLAIN"]
    assert 28 <= p["tls"]["certificate"]["days_left"] <= 30


# --------------------------------------------------------------------------
# STARTTLS and plaintext authentication


def test_starttls_missing(ca, fakes):
    cert, key = ca.issue("nostarttls", HOSTNAME, HOSTNAME, 30)
    srv = fakes(smtp_handler(server_context(cert, key), starttls=False))
    mx = fakes(smtp_handler(server_context(cert, key), starttls=False))
    rc, out, _ = run_probe("--ports", f"submission={srv.port},smtp={mx.port}",
                           "--cafile", str(ca.ca), "--servername", HOSTNAME, "127.0.0.1")
    assert rc == 1
    assert table_row(out, "submission")[2] == "FAIL"
    assert "not offered" in " ".join(table_row(out, "submission"))
    assert "Enable STARTTLS" in advice_of(out, "submission")
    # port 25 without STARTTLS is a warning, not a failure
    assert table_row(out, "smtp")[2] == "warning"
    assert "STARTTLS not offered: mail from other servers travels unencrypted" in out


def test_plaintext_auth_before_tls_warns(ca, fakes):
    cert, key = ca.issue("plainauth", HOSTNAME, HOSTNAME, 30)
    srv = fakes(smtp_handler(server_context(cert, key), auth_before_tls=True))
    rc, doc = probe_json("--ports", f"submission={srv.port}", "--cafile", str(ca.ca),
                         "--servername", HOSTNAME, "127.0.0.1")
    assert rc == 0  # a warning, the service works
    p = by_service(doc)["submission"]
    assert p["status"] == "warning"
    assert p["mechanisms_before_tls"] == ["PLAIN", "LOGIN"]
    assert any("plaintext authentication is offered before TLS" in w
               for w in p["warnings"])


# --------------------------------------------------------------------------
# untrusted text and color


def test_hostile_greeting_is_escaped(ca, fakes):
    cert, key = ca.issue("evil", HOSTNAME, HOSTNAME, 30)
    greeting = b'220 evil \x1b[31mRED\x07 "q" \\ \xc3\xbc\x9b2J'
    srv = fakes(smtp_handler(server_context(cert, key), greeting=greeting))
    args = ["--ports", f"submission={srv.port}", "--cafile", str(ca.ca),
            "--servername", HOSTNAME, "127.0.0.1"]
    p = subprocess.run([POSTEL_BIN, "probe", *args], capture_output=True,
                       timeout=scaled(30))
    assert p.returncode == 0, p.stdout
    for bad in (b"\x1b", b"\x07", b"\x9b", b"\xc3"):
        assert bad not in p.stdout
    assert b'evil \\x1b[31mRED\\x07 "q" \\\\ \\xc3\\xbc\\x9b2J' in p.stdout
    p = subprocess.run([POSTEL_BIN, "probe", "--json", *args], capture_output=True,
                       timeout=scaled(30))
    assert all(b < 0x80 and (b >= 0x20 or b == 0x0a) for b in p.stdout)
    doc = json.loads(p.stdout)
    assert by_service(doc)["submission"]["greeting"] == greeting.decode("latin-1")


def test_color_only_on_a_terminal(postel):
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([POSTEL_BIN, "probe", "--ports",
                                 f"submissions={postel.submissions_port}",
                                 *trusted(postel), "127.0.0.1"],
                                stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                                env={k: v for k, v in os.environ.items()
                                     if k != "NO_COLOR"})
        os.close(slave)
        slave = None
        data = b""
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=scaled(20)) == 0
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    assert b"\x1b[32mok\x1b[0m" in data, data


# --------------------------------------------------------------------------
# --user: a login test on each port that offers authentication


def test_login_postel_ok(postel):
    rc, out, err = run_probe("--user", ALICE, "--ports", postel_ports(postel),
                             *trusted(postel), "127.0.0.1", password=USERS[ALICE])
    assert rc == 0, out + err
    for service in ("smtp", "submission", "submissions"):
        assert table_row(out, service)[10] == "ok", table_row(out, service)
    assert out.count('login         ok: "235 2.7.0 Authentication successful"') == 3
    for service in ("pop3", "pop3s", "imap", "imaps"):
        assert table_row(out, service)[10] == "ok", table_row(out, service)
    assert USERS[ALICE] not in out and USERS[ALICE] not in err
    assert f"login test as {ALICE}, only over TLS with a valid certificate" in out


def test_login_pop3_maildrop_in_use_is_a_working_login(postel):
    """RFC 2449 8.1.1: -ERR [IN-USE] after the password means the login
    itself worked (and probe's own pop3 and pop3s sessions can race for
    the maildrop): reported as ok, with the reason."""
    ctx = ssl.create_default_context(cafile=str(postel.cert_path))
    ctx.check_hostname = False  # the certificate names mail.example.org
    holder = poplib.POP3_SSL("127.0.0.1", postel.pop3s_port, context=ctx, timeout=10)
    try:
        holder.user(ALICE)
        holder.pass_(USERS[ALICE])
        rc, out, err = run_probe("--user", ALICE, "--ports", f"pop3s={postel.pop3s_port}",
                                 *trusted(postel), "127.0.0.1", password=USERS[ALICE])
    finally:
        holder.quit()
    assert rc == 0, out + err
    assert table_row(out, "pop3s")[10] == "ok", out
    assert "[IN-USE]" in out and "credentials accepted" in out, out


def test_login_postel_wrong_password_reason(postel):
    rc, doc = probe_json("--user", ALICE, "--ports", f"submission={postel.submission_port}",
                         *trusted(postel), "127.0.0.1", password="not the password")
    assert rc == 1
    sub = by_service(doc)["submission"]
    assert sub["failed_stage"] == "login"
    assert sub["login"]["result"] == "failed"
    # the server's exact reason
    assert sub["login"]["detail"] == '"535 5.7.8 Authentication credentials invalid"'
    assert "Check the user name and the password" in sub["advice"]
    # another port would refuse the password just the same
    assert "465" not in sub["advice"] and "instead" not in sub["advice"], sub["advice"]
    rc, out, _ = run_probe("--user", ALICE, "--ports", postel_ports(postel),
                           *trusted(postel), "127.0.0.1", password="not the password")
    advice = [l for l in out.splitlines() if l.startswith("- ")]
    # one refused password, one line, whatever the number of ports
    assert len(advice) == 1, out
    assert "Check the user name and the password" in advice[0]
    assert "instead" not in advice[0] and "port 465" not in advice[0]


def test_login_needs_a_valid_certificate(postel):
    """Without --cafile Postel's certificate is not trusted: no password
    is sent to what could be an impostor."""
    rc, doc = probe_json("--user", ALICE, "--servername", HOSTNAME, "--ports",
                         f"submissions={postel.submissions_port}", "127.0.0.1",
                         password=USERS[ALICE])
    assert rc == 1
    p = by_service(doc)["submissions"]
    assert p["failed_stage"] == "certificate"
    assert p["login"]["result"] == "skipped"
    assert "impostor" in p["login"]["detail"]


def test_login_never_in_plaintext_unless_asked(ca, fakes):
    cert, key = ca.issue("plainlogin", HOSTNAME, HOSTNAME, 30)
    srv = fakes(smtp_handler(server_context(cert, key), starttls=False,
                             auth_before_tls=True, users={"u@example.org": "pw 1"}))
    args = ["--user", "u@example.org", "--ports", f"smtp={srv.port}", "--cafile",
            str(ca.ca), "--servername", HOSTNAME, "127.0.0.1"]
    rc, doc = probe_json(*args, password="pw 1")
    p = by_service(doc)["smtp"]
    assert rc == 0 and p["status"] == "warning"
    assert p["login"]["result"] == "skipped"
    assert "never sent in plaintext unless --login-plaintext" in p["login"]["detail"]
    rc, doc = probe_json("--login-plaintext", *args, password="pw 1")
    p = by_service(doc)["smtp"]
    assert rc == 0 and p["login"]["result"] == "ok"
    assert p["login"]["detail"] == '"235 2.7.0 Authentication successful"'


@pytest.mark.parametrize("sasl_ir", [True, False])
def test_login_imap_authenticate_plain(ca, fakes, sasl_ir):
    """AUTHENTICATE PLAIN with the response on the command line (SASL-IR)
    or after the "+" continuation; LOGINDISABLED rules out LOGIN."""
    cert, key = ca.issue("imaplogin", HOSTNAME, HOSTNAME, 30)
    srv = fakes(imap_handler(server_context(cert, key), implicit=True, sasl_ir=sasl_ir,
                             users={"u@example.org": "pw 2"}))
    args = ["--user", "u@example.org", "--ports", f"imaps={srv.port}", "--cafile",
            str(ca.ca), "--servername", HOSTNAME, "127.0.0.1"]
    rc, doc = probe_json(*args, password="pw 2")
    p = by_service(doc)["imaps"]
    assert rc == 0, p
    assert p["login"] == {"result": "ok", "detail": '"OK [CAPABILITY IMAP4rev1] Logged in"'}
    rc, doc = probe_json(*args, password="pw 3")
    p = by_service(doc)["imaps"]
    assert rc == 1
    assert p["login"]["detail"] == '"NO [AUTHENTICATIONFAILED] Authentication failed."'


def test_login_empty_password_refused(postel):
    rc, out, err = run_probe("--user", ALICE, "--ports", "submission=1", "127.0.0.1",
                             password="")
    assert rc == 1 and out == ""
    assert "empty password" in err


@pytest.mark.skipif(os.geteuid() != 0 or not os.access("/usr/bin/unshare", os.X_OK),
                    reason="needs root and unshare(1) for a private /etc/resolv.conf")
def test_name_lookup_bounded_by_timeout(tmp_path):
    """A resolver that never answers: the lookup counts against --timeout
    (glibc alone would wait its own timeout x attempts), and the advice
    names the resolver, not the spelling. /etc/resolv.conf is replaced only
    inside a private mount namespace."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.3", 53))  # takes queries, answers none
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.3\noptions timeout:20 attempts:2\n")
    script = (f"mount --bind {conf} /etc/resolv.conf && "
              f"exec {POSTEL_BIN} probe --timeout 1 --ports smtp mail.probe-dns-test.example")
    try:
        t0 = time.monotonic()
        p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, timeout=scaled(30), stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - t0
    finally:
        silent.close()
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 1, (out, p.stderr)
    assert elapsed < scaled(5), f"took {elapsed:.1f} s with --timeout 1"
    assert "not resolved within 1000 ms" in out, out
    assert "got no answer within the timeout" in out, out
    assert table_row(out, "smtp")[2:4] == ["FAIL", "no"], out
