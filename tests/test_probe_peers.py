"""`postel probe` against the servers people compare Postel with: a private
Dovecot (IMAP with STARTTLS, IMAPS, POP3 with STLS, POP3S) and a private
Postfix (port-25 SMTP with STARTTLS, submission with TLS required before
AUTH, submissions with implicit TLS, SASL through Dovecot), both on
127.0.0.2 high ports with a certificate from a test CA. See peers.py."""
import pytest

from conftest import free_ports
from peers import (DOVECOT, PEER_HOST, PEER_PASSWORD, PEER_USER, POSTFIX, Dovecot,
                   Postfix, missing)
from probe_fakes import ProbeCA
from test_probe import advice_of, by_service, probe_json, run_probe, table_row

NAME = "mail.example.org"


def probe_postfix(cert, key, auth_socket):
    """Port-25 SMTP with STARTTLS offered, submission with TLS required
    before AUTH, submissions with implicit TLS; SASL through Dovecot."""
    pf = Postfix([[],
                  ["smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes",
                   "smtpd_tls_auth_only=yes"],
                  ["smtpd_tls_wrappermode=yes", "smtpd_sasl_auth_enable=yes"]],
                 main="smtpd_tls_cert_file = {d}/cert.pem\n"
                      "smtpd_tls_key_file = {d}/key.pem\n"
                      "smtpd_tls_security_level = may\n"
                      "smtpd_sasl_type = dovecot\n"
                      f"smtpd_sasl_path = {auth_socket}\n",
                 cert=cert, key=key, prefix="probe-postfix-")
    pf.smtp, pf.submission, pf.submissions = pf.ports
    return pf


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    reason = missing(DOVECOT) or missing(POSTFIX)
    if reason:
        pytest.skip(f"{reason} (scripts/install-deps.sh check installs it)")
    ca = ProbeCA(tmp_path_factory.mktemp("peer-ca"))
    cert, key = ca.issue("peer", NAME, NAME, 30)
    dovecot = Dovecot(cert, key).start()
    postfix = None
    try:
        postfix = probe_postfix(cert, key, dovecot.auth_socket).start()
        yield ca, dovecot, postfix
    finally:
        if postfix is not None:
            postfix.stop()
        dovecot.stop()


def all_ports(dovecot, postfix):
    return (f"smtp={postfix.smtp},submission={postfix.submission},"
            f"submissions={postfix.submissions},pop3={dovecot.pop3},"
            f"pop3s={dovecot.pop3s},imap={dovecot.imap},imaps={dovecot.imaps}")


def trusted(ca):
    return ["--cafile", str(ca.ca), "--servername", NAME]


def test_peers_all_seven_ports_work(peers):
    ca, dovecot, postfix = peers
    rc, out, err = run_probe("--ports", all_ports(dovecot, postfix), *trusted(ca),
                             PEER_HOST)
    assert rc == 0, out + err
    for service in ("smtp", "submission", "submissions", "pop3", "pop3s", "imap",
                    "imaps"):
        row = table_row(out, service)
        assert row[2] == "ok", row
        assert "TLSv1.3" in row and "ok," in row, row
    assert "ESMTP Postfix" in out and "Dovecot" in out
    assert "Advice:" not in out
    assert out.rstrip().endswith("All 7 probed services work.")


def test_peers_json_capabilities(peers):
    ca, dovecot, postfix = peers
    rc, doc = probe_json("--ports", all_ports(dovecot, postfix), *trusted(ca), PEER_HOST)
    assert rc == 0 and doc["failed"] == 0
    p = by_service(doc)
    # Postfix: no AUTH before TLS where TLS is required, AUTH after
    assert p["submission"]["mechanisms_before_tls"] == []
    assert p["submission"]["mechanisms_after_tls"] == ["PLAIN", "LOGIN"]
    assert "STARTTLS" in p["submission"]["capabilities_before_tls"]
    assert p["smtp"]["mechanisms_after_tls"] == []  # no AUTH on port 25
    assert p["submissions"]["tls"]["mode"] == "implicit"
    # Dovecot with ssl = required: LOGINDISABLED and no SASL before TLS
    assert "LOGINDISABLED" in p["imap"]["capabilities_before_tls"]
    assert p["imap"]["plaintext_login_before_tls"] is False
    assert p["imap"]["mechanisms_before_tls"] == []
    assert p["imap"]["mechanisms_after_tls"] == ["PLAIN", "LOGIN"]
    assert "STLS" in p["pop3"]["capabilities_before_tls"]
    assert p["pop3"]["mechanisms_before_tls"] == []
    assert p["pop3"]["plaintext_login_before_tls"] is False
    assert p["pop3"]["plaintext_login_after_tls"] is True  # USER after STLS
    for service in p.values():
        assert service["warnings"] == [], service
        assert service["tls"]["certificate"]["issuer"] == "CN=Postel Probe Test CA"


def test_peers_wrong_name_and_alternates(peers):
    """Probed under another name every TLS port fails on the certificate
    (one advice line for the shared cause);
    a closed imaps port's advice points at Dovecot's working imap port
    only when the certificate is right."""
    ca, dovecot, postfix = peers
    rc, out, _ = run_probe("--ports", f"imap={dovecot.imap},pop3s={dovecot.pop3s}",
                           "--cafile", str(ca.ca), "--servername", "imap.example.net",
                           PEER_HOST)
    assert rc == 1
    assert "wrong name" in " ".join(table_row(out, "imap"))
    # one certificate, one cause: said once for both ports, with its names
    advice = [l for l in out.splitlines() if l.startswith("- ")]
    assert len(advice) == 1, out
    assert advice[0].startswith(f"- pop3s, imap (ports {dovecot.pop3s}, {dovecot.imap}): ")
    assert "does not name imap.example.net; it names mail.example.org" in advice[0]
    closed = free_ports(1, host=PEER_HOST)[0]
    rc, out, _ = run_probe("--ports", f"imap={dovecot.imap},imaps={closed}",
                           *trusted(ca), PEER_HOST)
    assert rc == 1
    assert table_row(out, "imap")[2] == "ok"
    assert (f"use imap (port {dovecot.imap}) instead: it works"
            in advice_of(out, "imaps"))


def test_peers_login(peers):
    ca, dovecot, postfix = peers
    args = ["--user", PEER_USER, "--timeout", "8", "--ports",
            all_ports(dovecot, postfix), *trusted(ca), PEER_HOST]
    rc, doc = probe_json(*args, password=PEER_PASSWORD)
    assert rc == 0, doc
    p = by_service(doc)
    assert p["smtp"]["login"] == {"result": "skipped",
                                  "detail": "no authentication offered"}
    for service in ("submission", "submissions", "pop3", "pop3s", "imap", "imaps"):
        assert p[service]["login"]["result"] == "ok", p[service]
    assert p["imap"]["login"]["detail"].startswith('"OK ')
    assert p["pop3"]["login"]["detail"].startswith('"+OK')
    assert p["submission"]["login"]["detail"].startswith('"235 2.7.0')


def test_peers_login_wrong_password_reasons(peers):
    ca, dovecot, postfix = peers
    rc, doc = probe_json("--user", PEER_USER, "--timeout", "8", "--ports",
                         all_ports(dovecot, postfix), *trusted(ca), PEER_HOST,
                         password="wrong password")
    assert rc == 1
    p = by_service(doc)
    assert doc["failed"] == 6
    # each server's own words
    assert "AUTHENTICATIONFAILED" in p["imaps"]["login"]["detail"]
    assert p["pop3s"]["login"]["detail"].startswith('"-ERR [AUTH]')
    assert p["submissions"]["login"]["detail"].startswith('"535 5.7.8')
    for service in ("submission", "submissions", "pop3", "pop3s", "imap", "imaps"):
        assert p[service]["failed_stage"] == "login"
