"""Helpers shared by the IMAP end-to-end tests (test_imap*.py)."""
import imaplib
import itertools

from conftest import SMTPConn, client_tls_context, scaled, token
from pop3_helpers import deliver, fresh_ip, new_user  # noqa: F401 (re-exported)

_tags = itertools.count(1)


def login(srv, user, password, implicit=False):
    """imaplib over STARTTLS (143) or implicit TLS (993), logged in."""
    if implicit:
        c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=client_tls_context(),
                              timeout=scaled(10))
    else:
        c = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=scaled(10))
        c.starttls(client_tls_context())
    c.login(user, password)
    return c


class IMAPRaw(SMTPConn):
    """A byte-exact IMAP client over a plain or TLS socket: commands go
    out as given, replies come back as the list of lines up to the tagged
    one."""

    def __init__(self, port, tls=False, **kw):
        super().__init__(port, tls=tls, greeting=False, **kw)
        self.greeting_line = self.read_line()

    def tag(self):
        return f"t{next(_tags)}"

    def command(self, text, timeout=None):
        """Send 'TAG text' and read to the tagged reply: (tagged, untagged)."""
        tag = self.tag()
        self.send(f"{tag} {text}\r\n".encode() if isinstance(text, str)
                  else tag.encode() + b" " + text + b"\r\n")
        return self.read_tagged(tag, timeout=timeout)

    def read_response(self, timeout=None):
        """One response; a line here (fetch_helpers keeps literals whole)."""
        return self.read_line(timeout=timeout)

    def read_tagged(self, tag, timeout=None):
        untagged = []
        prefix = tag.encode() + b" "
        for _ in range(100000):
            line = self.read_response(timeout=timeout)
            if line.startswith(prefix):
                return line, untagged
            untagged.append(line)
        raise AssertionError("no tagged reply after 100000 lines")

    def starttls_imap(self):
        tagged, _ = self.command("STARTTLS")
        assert tagged.split()[1] == b"OK", tagged
        assert self.buf == b"", f"plaintext after OK: {self.buf!r}"
        self.sock = client_tls_context().wrap_socket(self.sock)

    def login(self, user, password):
        tagged, untagged = self.command(f'LOGIN "{user}" "{password}"')
        assert tagged.split()[1] == b"OK", tagged
        return tagged, untagged


def status_of(tagged):
    return tagged.split()[1].decode()


def fetchmail_mda(tmp_path):
    """(out_dir, mda): an mda script for fetchmail that writes each message
    it is given to a file of its own in out_dir."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text(f"#!/bin/sh\nexec cat > \"$(mktemp -p {out_dir} msg.XXXXXX)\"\n")
    mda.chmod(0o755)
    return out_dir, mda


__all__ = ["fetchmail_mda", "login", "IMAPRaw", "status_of", "deliver", "fresh_ip", "new_user", "token"]
