"""Helpers of the FETCH end-to-end tests (test_imap_fetch*.py): a client
that reads literals by their count, and FETCH responses split into items."""
import re
import smtplib

from conftest import BOB, scaled
from imap_helpers import IMAPRaw

_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n$")


class FetchClient(IMAPRaw):
    """IMAPRaw whose responses keep literals whole: each untagged
    response is one bytes object with the literal data inline."""

    def read_exact(self, n, timeout=None):
        for _ in range(1000000):
            if len(self.buf) >= n:
                break
            data = self._recv(timeout or scaled(20))
            if not data:
                raise AssertionError("EOF inside a literal")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout=None):
        resp = b""
        for _ in range(10000):
            line = self.read_line(timeout=timeout)
            resp += line
            m = _LITERAL.search(line)
            if not m:
                return resp
            resp += self.read_exact(int(m.group(1)), timeout)
        raise AssertionError("more than 10000 literals in one response")


def fetches(untagged):
    """{seq: response bytes} of the '* n FETCH' responses."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH ", r)
        if m:
            out[int(m.group(1))] = r
    return out


def literal_after(resp, name):
    """The literal (or quoted string, or NIL) following item name."""
    i = resp.index(name.encode() + b" ") + len(name) + 1
    if resp.startswith(b"NIL", i):
        return None
    if resp[i:i + 1] == b'"':
        j = resp.index(b'"', i + 1)
        return resp[i + 1:j]
    m = re.compile(rb"~?\{(\d+)\}\r\n").match(resp, i)
    assert m, resp[i:i + 80]
    return resp[m.end():m.end() + int(m.group(1))]


def send_raw(srv, to, msg, sender=BOB):
    with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=scaled(30)) as s:
        s.sendmail(sender, [to], msg)


def parse_sexp(data, i=0):
    """IMAP data (atoms, "quoted", {n} literals, NIL, lists) from data[i:]
    up to the end or a ')': (list of values, index after). Strings are
    bytes, NIL is None, lists are Python lists."""
    out = []
    n = len(data)
    for _ in range(n + 1):
        while i < n and data[i:i + 1] in (b" ", b"\r", b"\n"):
            i += 1
        if i >= n:
            return out, i
        c = data[i:i + 1]
        if c == b")":
            return out, i + 1
        if c == b"(":
            sub, i = parse_sexp(data, i + 1)
            out.append(sub)
        elif c == b'"':
            j, s = i + 1, b""
            while data[j:j + 1] != b'"':
                if data[j:j + 1] == b"\\":
                    j += 1
                s += data[j:j + 1]
                j += 1
            out.append(s)
            i = j + 1
        elif c in (b"{", b"~"):
            m = re.compile(rb"~?\{(\d+)\}\r\n").match(data, i)
            start = m.end()
            out.append(data[start:start + int(m.group(1))])
            i = start + int(m.group(1))
        else:
            m = re.compile(rb"[^ ()\r\n\[]+(\[[^\]]*\])?(<[0-9.]+>)?").match(data, i)
            tok = m.group(0)
            out.append(None if tok == b"NIL" else tok)
            i = m.end()
    raise AssertionError("parse_sexp did not advance")


def fetch_items(resp):
    """{NAME: value} of one '* n FETCH (...)' response."""
    i = resp.index(b"FETCH (") + len(b"FETCH (")
    vals, _ = parse_sexp(resp, i)
    return {vals[k].decode().upper(): vals[k + 1] for k in range(0, len(vals) - 1, 2)}
