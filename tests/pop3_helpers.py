"""Helpers shared by the POP3 end-to-end tests (test_pop3*.py)."""
import itertools
import poplib
import smtplib

from conftest import (BOB, SMTPConn, client_tls_context, make_message, scaled,
                      token)

# failed logins slow down their address (authfail): tests that fail on
# purpose use addresses of their own
_ips = itertools.count(2)


def fresh_ip():
    return f"127.0.1.{next(_ips)}"


def new_user(srv):
    """A fresh account, so tests do not share a maildrop."""
    address = f"p{token()[1:13].lower()}@example.org"
    password = "pw-" + token()
    srv.add_user(address, password)
    return address, password


def deliver(srv, to, tok=None, body=None):
    """Send one message over SMTP (port 25); returns (tok, stored bytes)."""
    tok = tok or token()
    msg = make_message(tok, sender=BOB, to=to, body=body)
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(10)) as s:
        s.sendmail(BOB, [to], msg)
    found = srv.find(to, tok)
    assert len(found) == 1, found
    assert found[0].endswith(msg)
    return tok, found[0]


def login(srv, user, password, implicit=False):
    """poplib over STLS (110) or implicit TLS (995), logged in."""
    if implicit:
        p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, timeout=scaled(10),
                            context=client_tls_context())
    else:
        p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=scaled(10))
        p.stls(client_tls_context())
    p.user(user)
    p.pass_(password)
    return p


def retr_bytes(p, num):
    """RETR through poplib (which removes the dot-stuffing), as bytes."""
    _, lines, _ = p.retr(num)
    return b"".join(line + b"\r\n" for line in lines)


class POP3Raw(SMTPConn):
    """A byte-exact POP3 client over a plain or TLS socket."""

    def __init__(self, port, tls=False, **kw):
        super().__init__(port, tls=tls, greeting=False, **kw)
        self.greeting = self.line()
        assert self.greeting.startswith(b"+OK "), self.greeting

    def line(self, timeout=None):
        raw = self.read_line(timeout)
        assert raw.endswith(b"\r\n"), raw
        return raw[:-2]

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.line(timeout)

    def multi(self, timeout=None):
        """The lines of a multi-line body, up to the lone "."."""
        lines = []
        for _ in range(1000000):
            line = self.line(timeout)
            if line == b".":
                return lines
            lines.append(line)
        raise AssertionError("endless multi-line reply")

    def stls(self):
        r = self.cmd("STLS")
        assert r.startswith(b"+OK"), r
        assert self.buf == b"", f"plaintext after +OK: {self.buf!r}"
        self.sock = client_tls_context().wrap_socket(self.sock)
        return r

    def login(self, user, password):
        r = self.cmd(f"USER {user}")
        assert r.startswith(b"+OK"), r
        r = self.cmd(f"PASS {password}")
        assert r.startswith(b"+OK"), r
        return r


def raw(srv, implicit=False, stls=False, **kw):
    c = POP3Raw(srv.pop3s_port if implicit else srv.pop3_port, tls=implicit, **kw)
    if stls:
        c.stls()
    return c
