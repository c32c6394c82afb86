"""FETCH with real clients: curl's imaps:// URLs (RFC 5092 ;UID= and
;SECTION=), openssl s_client -starttls imap, fetchmail over IMAP (keep)."""
import os
import shutil
import subprocess

import pytest

from conftest import scaled
from imap_helpers import deliver, new_user


def curl(postel, user, password, path):
    cmd = ["curl", "-s", "-S", "--insecure", "--max-time", str(int(scaled(20))),
           "-u", f"{user}:{password}", f"imaps://127.0.0.1:{postel.imaps_port}/{path}"]
    return subprocess.run(cmd, capture_output=True, timeout=scaled(30))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_imaps_fetch(postel):
    user, password = new_user(postel)
    _, stored1 = deliver(postel, user)
    _, stored2 = deliver(postel, user)
    for uid, stored in ((1, stored1), (2, stored2)):
        out = curl(postel, user, password, f"INBOX;UID={uid}")
        assert out.returncode == 0, out.stderr
        assert out.stdout == stored, out.stdout[:300]
    out = curl(postel, user, password, "INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"Subject:") and out.stdout.endswith(b"\r\n\r\n")
    out = curl(postel, user, password, "INBOX;UID=7")  # no such message
    assert out.returncode != 0


def test_openssl_s_client_starttls_imap(postel):
    user, password = new_user(postel)
    _, stored = deliver(postel, user)
    script = (f"a LOGIN \"{user}\" \"{password}\"\nb SELECT INBOX\n"
              "c FETCH 1 (FLAGS RFC822.SIZE)\nd UID FETCH 1 BODY[]\ne LOGOUT\n")
    out = subprocess.run(["openssl", "s_client", "-starttls", "imap", "-quiet", "-crlf",
                          "-connect", f"127.0.0.1:{postel.imap_port}"],
                         input=script.encode(), capture_output=True, timeout=scaled(30))
    data = out.stdout
    assert b"a OK" in data, (data, out.stderr)
    assert f"* 1 FETCH (FLAGS (\\Recent) RFC822.SIZE {len(stored)})".encode() in data
    assert f"* 1 FETCH (UID 1 BODY[] {{{len(stored)}}}\r\n".encode() + stored in data
    assert b"FLAGS (\\Seen \\Recent))\r\nd OK UID FETCH completed" in data
    assert b"e OK" in data


FETCHMAIL = shutil.which("fetchmail")


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail not installed")
@pytest.mark.parametrize("implicit", [False, True], ids=["starttls-143", "imaps-993"])
def test_fetchmail_imap_keep(postel, tmp_path, implicit):
    user, password = new_user(postel)
    stored = [deliver(postel, user)[1] for _ in range(3)]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f"#!/bin/sh\nexec cat > \"$(mktemp -p {out_dir} msg.XXXXXX)\"\n")
    mda.chmod(0o755)
    port = postel.imaps_port if implicit else postel.imap_port
    tls = "ssl" if implicit else "sslproto TLS1.2+"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"set no syslog\npoll 127.0.0.1 service {port} protocol IMAP\n"
        f"  user \"{user}\" password \"{password}\" is nobody here\n"
        f"  {tls} no sslcertck keep fetchall\n"
        f"  mda \"{mda}\"\n")
    rc.chmod(0o600)
    env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
    p = subprocess.run([FETCHMAIL, "-f", str(rc), "-v", "--nodetach",
                        "--pidfile", str(tmp_path / "pid")],
                       capture_output=True, timeout=scaled(60), env=env)
    if p.returncode != 0:
        print(p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    assert p.returncode == 0, p.returncode
    got = [f.read_bytes().replace(b"\r\n", b"\n") for f in out_dir.iterdir()]
    assert len(got) == 3, p.stdout[-2000:]
    for want in stored:
        # fetchmail adds a Received line of its own; the body is intact
        want = want.replace(b"\r\n", b"\n")
        assert len([d for d in got if d.endswith(want.partition(b"\n\n")[2])]) == 1
    assert len(postel.messages(user)) == 3  # keep: nothing deleted


def test_imaps_greeting_offers_login(postel):
    """The greeting on 993 is written while the implicit TLS handshake
    runs, but only ever goes out over TLS: it offers LOGIN and AUTH=
    (fetchmail believed LOGINDISABLED and gave up)."""
    from imap_helpers import IMAPRaw
    with IMAPRaw(postel.imaps_port, tls=True) as c:
        assert b"LOGINDISABLED" not in c.greeting_line, c.greeting_line
        assert b"AUTH=PLAIN" in c.greeting_line
    with IMAPRaw(postel.imap_port) as c:  # plaintext 143 before STARTTLS
        assert b"LOGINDISABLED" in c.greeting_line and b"STARTTLS" in c.greeting_line
