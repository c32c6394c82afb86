"""`postel config check` checks what `serve` checks, `config show`, and the
configuration mistakes an administrator makes in the first hour (issue 11,
items 2 and 3): a hostname that is not fully qualified (warned at start and
by check, and named in the self-signed certificate's SAN), a mistyped key
(the nearest one is suggested), a key given twice (both lines named), and a
SIGHUP that changes listen addresses (logged: a restart is needed)."""
import os
import re
import signal
import ssl
import subprocess
import time

import pytest

from conftest import HOSTNAME, POSTEL_BIN, Postel, finish, scaled

ROOT = os.geteuid() == 0


def run(*args):
    p = subprocess.run([POSTEL_BIN] + list(args), capture_output=True,
                       timeout=scaled(60))
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


@pytest.fixture
def cli():
    """A data directory and overrides, no server running."""
    srv = Postel()
    yield srv
    srv.cleanup()


def make_cert(directory, name, hostname):
    """A self-signed certificate and key for hostname (openssl req)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", f"/CN={hostname}",
                    "-addext", f"subjectAltName=DNS:{hostname}"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def cert_dns_names(path):
    decoded = ssl._ssl._test_decode_cert(str(path))
    return [v for k, v in decoded.get("subjectAltName", ()) if k == "DNS"]


# --------------------------------------------------------------------------
# config check


def test_check_ok_changes_nothing(cli):
    before = sorted(os.listdir(cli.datadir))
    rc, out, err = cli.cli("config", "check")
    assert rc == 0 and out == "config ok\n", (out, err)
    assert "error" not in err and "warning" not in err, err
    # what serve would make is only noted: no tls/, no subdirectories
    assert "self-signed" in err, err
    assert sorted(os.listdir(cli.datadir)) == before


def test_check_missing_data_dir_is_noted_not_made(tmp_path):
    d = tmp_path / "nonexistent"
    rc, out, err = run("-d", str(d), "-o", f"hostname={HOSTNAME}", "config", "check")
    assert rc == 0, err
    assert "does not exist yet" in err and str(d) in err, err
    assert not d.exists()


def test_check_hostname_not_fqdn(cli):
    for name in ("mail", "localhost", "mx.localdomain"):
        rc, out, err = cli.cli("-o", f"hostname={name}", "config", "check",
                               check=False)
        assert rc == 0, (name, err)
        assert re.search(rf'warning: hostname "{re.escape(name)}" is not a fully '
                         'qualified domain name', err), err
        # the fix, spelled out
        assert "-o hostname=mail.example.org" in err, err
        assert f"{cli.datadir}/postel.conf" in err, err
    rc, out, err = cli.cli("-o", "hostname=mx.example.net", "config", "check")
    assert "warning" not in err, err


def test_check_certificate_and_key(cli, tmp_path):
    c1, k1 = make_cert(tmp_path, "one", HOSTNAME)
    c2, k2 = make_cert(tmp_path, "two", HOSTNAME)
    rc, out, err = cli.cli("-o", f"tls_cert={c1}", "-o", f"tls_key={k1}",
                           "config", "check")
    assert out == "config ok\n" and "warning" not in err, err
    # a key that does not belong to the certificate: serve would not start
    rc, out, err = cli.cli("-o", f"tls_cert={c1}", "-o", f"tls_key={k2}",
                           "config", "check", check=False)
    assert rc == 1, (out, err)
    assert f"error: cannot load key {k2}" in err, err
    assert "config ok" not in out
    # a file that is not there
    rc, out, err = cli.cli("-o", f"tls_cert={tmp_path}/none.crt", "-o", f"tls_key={k1}",
                           "config", "check", check=False)
    assert rc == 1 and f"{tmp_path}/none.crt" in err, err
    # a certificate for another name still loads, with a warning
    c3, k3 = make_cert(tmp_path, "three", "other.example.net")
    rc, out, err = cli.cli("-o", f"tls_cert={c3}", "-o", f"tls_key={k3}",
                           "config", "check")
    assert f"does not name hostname {HOSTNAME}" in err, err


def test_check_listen_overlap(cli):
    """Two keys on one address (or one on its wildcard): serve's bind
    would fail, so check says so first."""
    port = cli.smtp_port
    rc, out, err = cli.cli("-o", f"submission_listen=0.0.0.0:{port}",
                           "config", "check", check=False)
    assert rc == 1, (out, err)
    assert (f"error: smtp_listen 127.0.0.1:{port} and submission_listen "
            f"0.0.0.0:{port} overlap") in err, err
    rc, out, err = cli.cli("-o", f"pop3_listen=127.0.0.1:{port},[::1]:{port}",
                           "config", "check", check=False)
    assert rc == 1 and "pop3_listen 127.0.0.1" in err, err
    # [::] is bound IPv6-only: it and 0.0.0.0 on one port are fine
    rc, out, err = cli.cli("-o", f"smtp_listen=0.0.0.0:{port},[::]:{port}",
                           "config", "check")
    assert out == "config ok\n", err


@pytest.mark.skipif(not ROOT, reason="owner checks apply when started as root")
def test_check_unsafe_data_dir(cli):
    os.chmod(cli.datadir, 0o777)
    try:
        rc, out, err = cli.cli("config", "check", check=False)
    finally:
        os.chmod(cli.datadir, 0o755)
    assert rc == 1, (out, err)
    assert f"unsafe data directory: {cli.datadir} is owned by uid 0 with mode 0777" in err, err
    # a link where serve expects a directory it hands to postel
    os.symlink("/etc", cli.datadir / "mail")
    rc, out, err = cli.cli("config", "check", check=False)
    assert rc == 1 and f"{cli.datadir}/mail is a symbolic link" in err, err
    assert os.path.islink(cli.datadir / "mail")


def test_check_accepts_what_serve_made(cli):
    """After serve ran (data dir laid out, self-signed certificate made),
    check finds nothing to note."""
    cli.start()
    problems = cli.stop()
    assert not problems, problems
    rc, out, err = cli.cli("config", "check")
    assert out == "config ok\n" and err == "", err


# --------------------------------------------------------------------------
# config show


def test_show_keys_and_changed(cli):
    rc, out, err = cli.cli("config", "show", "workers", "max_recipients", "data_dir")
    assert out == f"workers = 2\nmax_recipients = 1000\ndata_dir = {cli.datadir}\n", out
    rc, out, err = cli.cli("-o", "max_recipients=1000", "-o", "log_level=debug",
                           "config", "show", "--changed")
    lines = out.splitlines()
    # like postconf -n: only what differs from the defaults
    assert "log_level = debug" in lines and "workers = 2" in lines, out
    assert f"hostname = {HOSTNAME}" in lines, out
    assert not any(l.startswith(("max_recipients", "message_size_limit", "sandbox"))
                   for l in lines), out
    rc, out, err = cli.cli("config", "show", "message_size_limit", "workers", "--changed")
    assert out == "workers = 2\n", out


def test_show_unknown_key_suggests(cli):
    rc, out, err = cli.cli("config", "show", "max_recipents", check=False)
    assert rc == 1 and out == "", (out, err)
    assert 'unknown key "max_recipents" (did you mean max_recipients?)' in err, err


def test_unknown_key_in_file_suggests(cli, tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text("smtp_lsten = 127.0.0.1:2525\n")
    rc, out, err = run("-d", str(cli.datadir), "-c", str(conf), "config", "check")
    assert rc == 1, err
    assert f'{conf}:1: unknown key "smtp_lsten" (did you mean smtp_listen?)' in err, err
    rc, out, err = run("-d", str(cli.datadir), "-o", "wokers=2", "config", "check")
    assert rc == 1 and "did you mean workers?" in err, err


def test_duplicate_key_names_both_lines(cli, tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text("hostname = a.example.org\n# x\nworkers = 2\nhostname = b.example.org\n")
    rc, out, err = run("-d", str(cli.datadir), "-c", str(conf), "config", "check")
    assert rc == 1, (out, err)
    assert f"{conf}:4: hostname is set twice, on lines 1 and 4" in err, err


# --------------------------------------------------------------------------
# serve: the hostname warning, the certificate's SAN, SIGHUP and listeners


def test_serve_warns_hostname_and_cert_names_it():
    srv = Postel({"hostname": "mail"})
    try:
        srv.start()
        line = srv.wait_for_log(r"event=hostname_not_fqdn")
        assert line and "level=warn" in line, srv.log_tail()
        assert "-o hostname=mail.example.org" in line, line
        assert cert_dns_names(srv.cert_path) == ["mail"]
        # the fix: the certificate follows the name at the next start
        problems = srv.stop()
        assert not problems, problems
        srv.overrides["hostname"] = "mail.example.test"
        srv.start()
        assert cert_dns_names(srv.cert_path) == ["mail.example.test"]
        assert srv.wait_for_log(r"event=tls_self_signed_renew .*hostname_changed")
        assert len(re.findall(r"event=hostname_not_fqdn", srv.log())) == 1
    finally:
        finish(srv)


def test_sighup_listen_change_needs_restart():
    srv = Postel()
    conf = srv.datadir / "postel.conf"
    port = srv.overrides.pop("smtp_listen")
    conf.write_text(f"smtp_listen = {port}\nmax_recipients = 10\n")
    os.chmod(conf, 0o644)
    try:
        srv.start()
        new_port = srv.submission_port + 1000 if srv.submission_port < 60000 else 2525
        conf.write_text(f"smtp_listen = 127.0.0.1:{new_port}\nmax_recipients = 20\n")
        os.kill(srv.pid, signal.SIGHUP)
        line = srv.wait_for_log(r"event=reload_needs_restart")
        assert line and "keys=smtp_listen " in line, srv.log_tail()
        assert srv.wait_for_log(r"event=reload changed=yes"), srv.log_tail()
        # the old listener still serves
        with srv.smtp() as c:
            assert c.greeting.code == 220
        srv.stable_workers = False  # the reload replaced them
        # a reload that changes no listener says nothing about a restart
        conf.write_text(f"smtp_listen = 127.0.0.1:{new_port}\nmax_recipients = 30\n")
        os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + scaled(5)
        while (len(re.findall(r"event=reload changed=", srv.log())) < 2
               and time.monotonic() < deadline):
            time.sleep(0.1)
        assert len(re.findall(r"event=reload changed=", srv.log())) == 2, srv.log_tail()
        assert len(re.findall(r"event=reload_needs_restart", srv.log())) == 1
    finally:
        finish(srv)
