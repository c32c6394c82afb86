"""Helpers shared by the IMAP end-to-end tests (test_imap*.py)."""
import hashlib
import imaplib
import itertools
import ssl

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


def append_sync(c, args, msg):
    """APPEND args {n} with a synchronising literal: the tagged reply."""
    tag = c.tag()
    c.send(f"{tag} APPEND {args} {{{len(msg)}}}\r\n".encode())
    assert c.read_line().startswith(b"+"), "no continuation"
    c.send(msg + b"\r\n")
    tagged, _ = c.read_tagged(tag)
    return tagged


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


def cert_sha256(srv):
    """The server certificate's SHA-256 fingerprint, hex (offlineimap pins
    it: the certificate names HOSTNAME, the connection goes to 127.0.0.1)."""
    der = ssl.PEM_cert_to_DER_cert(srv.cert_path.read_text())
    return hashlib.sha256(der).hexdigest()


def offlineimap_rc(srv, tmp_path, user, password, folders, compress=False):
    """An offlineimaprc in tmp_path syncing folders of user's over IMAPS
    into tmp_path/mail (metadata in tmp_path/meta); its path."""
    rc = tmp_path / "offlineimaprc"
    rc.write_text(
        f"[general]\naccounts = p\nmetadata = {tmp_path}/meta\nui = basic\n\n"
        "[Account p]\nlocalrepository = L\nremoterepository = R\n\n"
        f"[Repository L]\ntype = Maildir\nlocalfolders = {tmp_path / 'mail'}\n\n"
        f"[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {srv.imaps_port}\n"
        f"remoteuser = {user}\nremotepass = {password}\nssl = yes\n"
        f"cert_fingerprint = {cert_sha256(srv)}\n"
        + ("usecompression = yes\n" if compress else "")
        + f"folderfilter = lambda f: f in {list(folders)!r}\n")
    return rc


__all__ = ["cert_sha256", "fetchmail_mda", "offlineimap_rc", "login", "IMAPRaw", "status_of", "deliver", "fresh_ip", "new_user", "token"]
