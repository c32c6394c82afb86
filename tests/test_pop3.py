"""POP3 (issue 3) end-to-end with real clients: poplib over STLS and over
implicit TLS, curl pop3:// and pop3s://, openssl s_client -starttls pop3,
fetchmail, and a raw socket where bytes matter. Mail is sent over SMTP in
the same test and must come back byte for byte."""
import base64
import hashlib
import hmac
import os
import poplib
import shutil
import subprocess

import pytest

from conftest import b64, client_tls_context, plain_auth_blob, running_postel, scaled
from pop3_helpers import POP3Raw, deliver, login, new_user, raw, retr_bytes


def capa(c):
    r = c.cmd("CAPA")
    assert r.startswith(b"+OK"), r
    return [line.decode() for line in c.multi()]


def test_capa_lists_exactly_what_works(postel):
    user, password = new_user(postel)
    with raw(postel) as c:
        caps = capa(c)
        # RFC 2595 4 / RFC 2449 5: no login offered in clear by default
        assert "STLS" in caps and "USER" not in caps, caps
        assert not any(x.startswith("SASL") for x in caps), caps
        for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8"):
            assert cap in caps, caps
        assert not any(x.startswith("APOP") for x in caps)
        c.stls()
        caps = capa(c)
        assert "STLS" not in caps and "USER" in caps and "UTF8 USER" in caps, caps
        assert "SASL PLAIN LOGIN SCRAM-SHA-256" in caps, caps
        c.login(user, password)
        caps = capa(c)
        assert "USER" not in caps and "STLS" not in caps, caps
        assert "TOP" in caps and "UIDL" in caps
    with raw(postel, implicit=True) as c:
        caps = capa(c)
        assert "STLS" not in caps and "USER" in caps, caps
    # poplib's own view of it
    p = poplib.POP3("127.0.0.1", postel.pop3_port, timeout=scaled(10))
    assert "STLS" in p.capa()
    p.quit()


@pytest.mark.parametrize("implicit", [False, True], ids=["stls-110", "pop3s-995"])
def test_retrieve_byte_exact(postel, implicit):
    user, password = new_user(postel)
    body = [".starts with a dot", "..", ".", "x" * 900, "last line"]
    _, stored1 = deliver(postel, user)
    _, stored2 = deliver(postel, user, body=body)
    p = login(postel, user, password, implicit=implicit)
    count, octets = p.stat()
    assert (count, octets) == (2, len(stored1) + len(stored2))
    resp, listing, _ = p.list()
    assert listing == [f"1 {len(stored1)}".encode(), f"2 {len(stored2)}".encode()]
    assert p.list(2) == f"+OK 2 {len(stored2)}".encode()
    assert retr_bytes(p, 1) == stored1
    assert retr_bytes(p, 2) == stored2
    # RFC 1939 7: TOP n gives the header, the blank line and n body lines
    _, lines, _ = p.top(2, 2)
    head, _, rest = stored2.partition(b"\r\n\r\n")
    expect = head.split(b"\r\n") + [b""] + rest.split(b"\r\n")[:2]
    assert lines == expect
    _, lines, _ = p.top(2, 0)
    assert lines == head.split(b"\r\n") + [b""]
    p.quit()
    # nothing was deleted
    assert len(postel.messages(user)) == 2


def test_dot_stuffing_on_the_wire(postel):
    user, password = new_user(postel)
    _, stored = deliver(postel, user, body=[".a", "..b", "."])
    with raw(postel, stls=True) as c:
        c.login(user, password)
        assert c.cmd("RETR 1") == f"+OK {len(stored)} octets".encode()
        lines = c.multi()
        assert b"..a" in lines and b"...b" in lines and b".." in lines
        assert not any(line.startswith(b".") and not line.startswith(b"..")
                       for line in lines)


def test_uidl_stable_across_sessions_and_restart(postel_factory):
    srv = postel_factory()
    user, password = new_user(srv)
    for _ in range(3):
        deliver(srv, user)
    p = login(srv, user, password)
    _, first, _ = p.uidl()
    p.quit()
    assert len(first) == 3
    uids = [line.split()[1] for line in first]
    assert len(set(uids)) == 3
    for uid in uids:  # RFC 1939 7: 1-70 characters in 0x21-0x7E
        assert 1 <= len(uid) <= 70 and all(0x21 <= b <= 0x7e for b in uid)
    p = login(srv, user, password, implicit=True)
    assert p.uidl()[1] == first
    assert p.uidl(2) == b"+OK " + first[1]
    p.quit()
    srv.restart()
    p = login(srv, user, password)
    assert p.uidl()[1] == first
    p.dele(1)
    p.quit()
    deliver(srv, user)
    p = login(srv, user, password)
    _, after, _ = p.uidl()
    p.quit()
    # the survivors keep their ids under new numbers; the new one is new
    assert [line.split()[1] for line in after[:2]] == uids[1:]
    assert after[2].split()[1] not in uids


def test_dele_quit_expunges_durably(postel):
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(3)]
    p = login(postel, user, password)
    assert p.dele(2).startswith(b"+OK")
    # RFC 1939 5: a deleted message is gone from this session's view
    assert p.stat()[0] == 2
    with pytest.raises(poplib.error_proto):
        p.retr(2)
    with pytest.raises(poplib.error_proto):
        p.dele(2)
    assert [line.split()[0] for line in p.list()[1]] == [b"1", b"3"]
    # before QUIT the file is still there
    assert postel.find(user, toks[1])
    assert b"1 messages deleted" in p.quit()
    assert postel.find(user, toks[1]) == []
    assert postel.find(user, toks[0]) and postel.find(user, toks[2])
    p = login(postel, user, password)
    assert p.stat()[0] == 2
    assert toks[1].encode() not in retr_bytes(p, 1) + retr_bytes(p, 2)
    p.quit()


def test_message_moved_by_another_reader(postel):
    """A Maildir reader (mutt, later our IMAP) that marks a message seen
    moves it from new/ to cur/ under another name; RETR still finds it,
    and one removed outright is -ERR, not a crash."""
    user, password = new_user(postel)
    tok1, stored1 = deliver(postel, user)
    tok2, _ = deliver(postel, user)
    p = login(postel, user, password)
    files = postel.messages(user)
    path1 = [path for path, data in files if tok1.encode() in data][0]
    path2 = [path for path, data in files if tok2.encode() in data][0]
    os.rename(path1, path1.parent.parent / "cur" / (path1.name + ":2,S"))
    os.unlink(path2)
    assert retr_bytes(p, 1) == stored1
    with pytest.raises(poplib.error_proto) as e:
        p.retr(2)
    assert e.value.args[0].startswith(b"-ERR")
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_dropped_connection_and_rset_delete_nothing(postel):
    user, password = new_user(postel)
    toks = [deliver(postel, user)[0] for _ in range(2)]
    c = raw(postel, stls=True)
    c.login(user, password)
    assert c.cmd("DELE 1").startswith(b"+OK")
    assert c.cmd("DELE 2").startswith(b"+OK")
    c.close()  # no QUIT: RFC 1939 6, no UPDATE state
    p = None
    for _ in range(50):  # the old session's lock goes when the server sees EOF
        try:
            p = login(postel, user, password)
            break
        except poplib.error_proto as e:
            assert b"[IN-USE]" in e.args[0], e
    assert p is not None
    assert p.stat()[0] == 2
    p.dele(1)
    p.dele(2)
    assert p.rset().startswith(b"+OK")
    assert p.stat()[0] == 2
    p.quit()
    assert all(postel.find(user, t) for t in toks)


def test_second_session_gets_in_use(postel):
    user, password = new_user(postel)
    deliver(postel, user)
    first = login(postel, user, password)
    for implicit in (False, True):
        second = poplib.POP3_SSL("127.0.0.1", postel.pop3s_port, timeout=scaled(10),
                                 context=client_tls_context()) if implicit else None
        if second is None:
            second = poplib.POP3("127.0.0.1", postel.pop3_port, timeout=scaled(10))
            second.stls(client_tls_context())
        second.user(user)
        with pytest.raises(poplib.error_proto) as e:
            second.pass_(password)
        assert e.value.args[0].startswith(b"-ERR [IN-USE]"), e.value
        # still in AUTHORIZATION: the client may try again later
        assert "USER" in second.capa()
        second.quit()
    first.quit()
    p = login(postel, user, password)
    assert p.stat()[0] == 1
    p.quit()


def test_plaintext_login_refused_before_tls(postel):
    user, password = new_user(postel)
    with raw(postel) as c:
        # RFC 2595 4 / RFC 3206 4: -ERR [AUTH] before TLS
        assert c.cmd(f"USER {user}").startswith(b"-ERR [AUTH]")
        assert c.cmd(f"PASS {password}").startswith(b"-ERR [AUTH]")
        assert c.cmd(f"AUTH PLAIN {plain_auth_blob(user, password)}").startswith(b"-ERR [AUTH]")
        assert c.cmd("STAT").startswith(b"-ERR")
        c.stls()
        c.login(user, password)
        assert c.cmd("STAT").startswith(b"+OK")


def test_plaintext_login_when_allowed(postel_factory):
    srv = postel_factory(allow_plaintext_auth="yes")
    user, password = new_user(srv)
    _, stored = deliver(srv, user)
    p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=scaled(10))
    caps = p.capa()
    assert "USER" in caps and "STLS" in caps and "SASL" in caps
    p.user(user)
    p.pass_(password)
    assert retr_bytes(p, 1) == stored
    p.quit()


def test_auth_mechanisms(postel):
    user, password = new_user(postel)
    deliver(postel, user)
    # RFC 5034: PLAIN with an initial response
    with raw(postel, implicit=True) as c:
        r = c.cmd(f"AUTH PLAIN {plain_auth_blob(user, password)}")
        assert r.startswith(b"+OK"), r
        assert c.cmd("STAT") .startswith(b"+OK 1 ")
        assert c.cmd("QUIT").startswith(b"+OK")
    # PLAIN without one: an empty "+ " challenge
    with raw(postel, implicit=True) as c:
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.cmd(plain_auth_blob(user, password)).startswith(b"+OK")
    # LOGIN
    with raw(postel, implicit=True) as c:
        assert c.cmd("AUTH LOGIN").startswith(b"+ ")
        assert c.cmd(b64(user)).startswith(b"+ ")
        assert c.cmd(b64(password)).startswith(b"+OK")
    # SCRAM-SHA-256, whose server-final comes as a challenge
    with raw(postel, implicit=True) as c:
        assert scram(c, user, password).startswith(b"+OK")
    # poplib's USER/PASS and the AUTH listing some clients probe with
    with raw(postel, implicit=True) as c:
        assert c.cmd("AUTH").startswith(b"+OK")
        assert c.multi() == [b"PLAIN", b"LOGIN", b"SCRAM-SHA-256"]


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def scram(c, user, password):
    cnonce = b64(os.urandom(18))
    cfb = f"n={user},r={cnonce}"
    r = c.cmd("AUTH SCRAM-SHA-256 " + b64("n,," + cfb))
    assert r.startswith(b"+ "), r
    sfirst = base64.b64decode(r[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = _hmac(salted, b"Client Key")
    cfwp = f"c={b64('n,,')},r={attrs['r']}"
    auth_message = f"{cfb},{sfirst},{cfwp}".encode()
    sig = _hmac(hashlib.sha256(client_key).digest(), auth_message)
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    r = c.cmd(b64(f"{cfwp},p={b64(proof)}"), timeout=20)
    assert r.startswith(b"+ "), r
    sfinal = base64.b64decode(r[2:]).decode()
    assert base64.b64decode(sfinal[2:]) == _hmac(_hmac(salted, b"Server Key"), auth_message)
    return c.cmd("")


def test_pipelining(postel):
    user, password = new_user(postel)
    _, stored = deliver(postel, user)
    with raw(postel, implicit=True) as c:
        c.send(f"USER {user}\r\nPASS {password}\r\nSTAT\r\nRETR 1\r\nLIST\r\n"
               "UIDL 1\r\nNOOP\r\nQUIT\r\n")
        assert c.line().startswith(b"+OK")
        assert c.line().startswith(b"+OK Logged in")
        assert c.line() == f"+OK 1 {len(stored)}".encode()
        assert c.line().startswith(b"+OK")
        body = c.multi()
        assert b"\r\n".join(line[1:] if line.startswith(b"..") else line
                            for line in body) + b"\r\n" == stored
        assert c.line().startswith(b"+OK 1 messages")
        assert c.multi() == [f"1 {len(stored)}".encode()]
        assert c.line().startswith(b"+OK 1 ")
        assert c.line() == b"+OK"
        assert c.line().startswith(b"+OK")
        assert c.is_closed()


def test_stls_injection_discarded(postel):
    """TESTING.md item 1: STLS\\r\\nCAPA\\r\\n in one write: only the
    handshake follows the +OK; the pipelined CAPA is never answered."""
    with raw(postel) as c:
        c.send("STLS\r\nCAPA\r\n")
        r = c.line()
        assert r.startswith(b"+OK"), r
        assert c.buf == b""
        c.sock = client_tls_context().wrap_socket(c.sock)
        # the next reply belongs to the next command, not to the CAPA
        assert c.cmd("NOOP").startswith(b"-ERR")
        assert c.read_available(0.3) == b""
        assert c.cmd("STLS").startswith(b"-ERR")  # RFC 2595 4: not twice
    with raw(postel, implicit=True) as c:
        assert c.cmd("STLS").startswith(b"-ERR")


def test_utf8_command(postel):
    user, password = new_user(postel)
    with raw(postel, implicit=True) as c:
        assert c.cmd("UTF8").startswith(b"+OK")  # RFC 6856 3.1
        c.login(user, password)
        assert c.cmd("UTF8").startswith(b"-ERR")  # AUTHORIZATION only


def test_curl_pop3s_and_stls(postel):
    user, password = new_user(postel)
    _, stored1 = deliver(postel, user)
    _, stored2 = deliver(postel, user)
    base = ["curl", "-s", "-S", "--insecure", "--max-time", str(int(scaled(20))),
            "-u", f"{user}:{password}"]
    url = f"pop3s://127.0.0.1:{postel.pop3s_port}"
    out = subprocess.run(base + [f"{url}/"], capture_output=True, timeout=scaled(30))
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"1 {len(stored1)}\r\n2 {len(stored2)}\r\n".encode()
    out = subprocess.run(base + [f"{url}/2"], capture_output=True, timeout=scaled(30))
    assert out.returncode == 0, out.stderr
    assert out.stdout == stored2
    # STLS on 110, required
    url110 = f"pop3://127.0.0.1:{postel.pop3_port}"
    out = subprocess.run(base + ["--ssl-reqd", f"{url110}/1"], capture_output=True,
                         timeout=scaled(30))
    assert out.returncode == 0, out.stderr
    assert out.stdout == stored1
    # DELE through a custom request; curl QUITs, so it is applied
    out = subprocess.run(base + ["-X", "DELE", "-I", f"{url}/1"], capture_output=True,
                         timeout=scaled(30))
    assert out.returncode == 0, out.stderr
    out = subprocess.run(base + [f"{url}/"], capture_output=True, timeout=scaled(30))
    assert out.stdout == f"1 {len(stored2)}\r\n".encode(), out


def test_openssl_s_client_starttls_pop3(postel):
    user, password = new_user(postel)
    deliver(postel, user)
    script = f"CAPA\nUSER {user}\nPASS {password}\nSTAT\nQUIT\n"
    out = subprocess.run(["openssl", "s_client", "-starttls", "pop3", "-quiet",
                          "-crlf", "-connect", f"127.0.0.1:{postel.pop3_port}"],
                         input=script.encode(), capture_output=True, timeout=scaled(30))
    text = out.stdout.decode("utf-8", "replace")
    assert "+OK Capability list follows" in text, (text, out.stderr)
    assert "USER\r\n" in text and "STLS\r\n" not in text
    assert "+OK Logged in, 1 messages" in text, text
    assert "+OK 1 " in text and "signing off" in text


FETCHMAIL = shutil.which("fetchmail")


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail not installed")
@pytest.mark.parametrize("implicit", [False, True], ids=["stls-110", "pop3s-995"])
def test_fetchmail_keep_then_fetch_and_delete(postel, tmp_path, implicit):
    user, password = new_user(postel)
    _, stored1 = deliver(postel, user)
    _, stored2 = deliver(postel, user)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.sh"
    # one file per message, so each can be compared with what was stored
    mda.write_text(f"#!/bin/sh\nexec cat > \"$(mktemp -p {out_dir} msg.XXXXXX)\"\n")
    mda.chmod(0o755)
    port = postel.pop3s_port if implicit else postel.pop3_port
    tls = "ssl" if implicit else "sslproto TLS1.2+"

    def run(keep):
        rc = tmp_path / "fetchmailrc"
        rc.write_text(
            f"set no syslog\npoll 127.0.0.1 service {port} protocol pop3 uidl\n"
            f"  user \"{user}\" password \"{password}\" is nobody here\n"
            f"  {tls} no sslcertck {'keep' if keep else 'nokeep'} fetchall\n"
            f"  mda \"{mda}\"\n")
        rc.chmod(0o600)
        env = dict(os.environ, FETCHMAILHOME=str(tmp_path), HOME=str(tmp_path))
        p = subprocess.run([FETCHMAIL, "-f", str(rc), "-v", "--nodetach",
                            "--pidfile", str(tmp_path / "pid")],
                           capture_output=True, timeout=scaled(60), env=env)
        assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
        return p

    run(keep=True)
    got = [f.read_bytes().replace(b"\r\n", b"\n") for f in out_dir.iterdir()]
    assert len(got) == 2
    for stored in (stored1, stored2):
        # fetchmail adds a Received line of its own (and moves some
        # header fields up); every stored line and the body are intact
        want = stored.replace(b"\r\n", b"\n")
        data = [d for d in got if d.endswith(want.partition(b"\n\n")[2])]
        assert len(data) == 1, (got, want)
        head = data[0].partition(b"\n\n")[0].split(b"\n")
        for line in want.partition(b"\n\n")[0].split(b"\n"):
            assert line in head, (line, head)
    assert len(postel.messages(user)) == 2
    for f in out_dir.iterdir():
        f.unlink()
    run(keep=False)
    assert len(list(out_dir.iterdir())) == 2
    assert postel.messages(user) == []
