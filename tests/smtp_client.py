"""Client helpers: a byte-exact SMTP client over a plain or TLS socket
(SMTPConn, also used for raw greetings of POP3 and IMAP), TLS contexts,
stalled connections, SASL PLAIN blobs and dot-stuffing. Every socket has a
timeout (scaled under ASan); every read loop is bounded."""
import base64
import re
import socket
import ssl
import time

from e2e_env import scaled


def client_tls_context(cafile=None, alpn=None):
    """A client context. Without cafile nothing is verified (self-signed)."""
    if cafile:
        ctx = ssl.create_default_context(cafile=str(cafile))
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def quick_ack(sock):
    """ACK at once what the server sent so far. After an implicit-TLS
    handshake the server's last flight waits for the client's ACK, which
    Linux delays up to 40 ms when the client has nothing to send, and the
    greeting written next waits behind it under Nagle: 40 ms per connection.
    Postel's accepted sockets set TCP_NODELAY (test_nodelay.py proves it
    without this); peers such as Dovecot or Postfix may not, so the suite's
    client still sends the pending ACK at once with TCP_QUICKACK."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except OSError:
        pass
    return sock


def stalled_connections(port, n):
    """n loopback connections to port that never send a byte: a TLS
    handshake that stalls before the ClientHello."""
    return [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(n)]


def assert_all_dropped(socks, seconds=10):
    """Every socket in socks is closed by the server (EOF or reset) within
    scaled(seconds) for all of them together; closes each."""
    deadline = time.monotonic() + scaled(seconds)
    for sock in socks:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
        sock.close()


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain_auth_blob(user, password, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}".encode())


def dot_stuff(msg):
    """RFC 5321 4.5.2 transparency, for raw DATA: msg must be CRLF-only."""
    out = re.sub(rb"(?m)^\.", b"..", msg)
    return out


class Reply:
    def __init__(self, lines, raw):
        self.lines = lines      # text after "NNN-" / "NNN "
        self.raw = raw          # the bytes as received
        self.code = int(raw[:3])

    @property
    def text(self):
        return self.lines[-1]

    @property
    def enhanced(self):
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})( |$)", self.lines[-1])
        return m.group(1) if m else None

    def keywords(self):
        """EHLO keywords, upper case, first line (the greeting) excluded."""
        return {line.split()[0].upper(): line for line in self.lines[1:] if line}

    def __repr__(self):
        return f"Reply({self.raw!r})"


class ConnectionClosed(Exception):
    pass


class SMTPConn:
    """A byte-exact SMTP client over a plain or TLS socket."""

    MAX_BUFFER = 4 * 1024 * 1024

    def __init__(self, port, host="127.0.0.1", timeout=10.0, tls=False,
                 source=None, greeting=True, context=None, server_hostname=None):
        self.timeout = scaled(timeout)
        self.sock = socket.create_connection(
            (host, port), timeout=self.timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.transcript = []
        if tls:
            ctx = context or client_tls_context()
            self.sock = quick_ack(ctx.wrap_socket(self.sock, server_hostname=server_hostname))
        self.greeting = self.read_reply() if greeting else None

    # --- low level
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append((">", data))
        self.sock.sendall(data)

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            data = b""
        except ssl.SSLError as e:
            if "EOF" in str(e) or "record layer" in str(e).lower():
                data = b""
            else:
                raise
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass
        if data:
            self.transcript.append(("<", data))
        return data

    def read_line(self, timeout=None):
        deadline = time.monotonic() + (scaled(timeout) if timeout else self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete line; buffered {self.buf[:200]!r}")
            data = self._recv(left)
            if data is None:
                continue
            if data == b"":
                raise ConnectionClosed(f"EOF; buffered {self.buf[:200]!r}")
            self.buf += data
            if len(self.buf) > self.MAX_BUFFER:
                raise AssertionError("server sent a line over 4 MiB")
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_reply(self, timeout=None):
        """Lines up to the final 'NNN ' (or bare 'NNN') line."""
        raw, lines = b"", []
        for _ in range(10000):
            line = self.read_line(timeout)
            raw += line
            assert line.endswith(b"\r\n"), f"reply line without CRLF: {line!r}"
            m = re.match(rb"^(\d{3})([ -]?)(.*)\r\n$", line, re.S)
            assert m, f"malformed reply line {line!r}"
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(lines, raw)
        raise AssertionError("reply with over 10000 lines")

    def read_replies(self, n, timeout=None):
        return [self.read_reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.read_reply(timeout)

    def read_available(self, wait=0.5):
        """Everything that arrives within `wait` s (buffered bytes first)."""
        data, self.buf = self.buf, b""
        deadline = time.monotonic() + scaled(wait)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data
            chunk = self._recv(left)
            if chunk is None:
                return data
            if chunk == b"":
                return data
            data += chunk

    def read_until_eof(self, timeout=10.0):
        """All bytes until the server closes; TimeoutError if it does not."""
        data, self.buf = self.buf, b""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection not closed; got {data[:300]!r}")
            chunk = self._recv(left)
            if chunk is None:
                continue
            if chunk == b"":
                return data
            data += chunk
            if len(data) > self.MAX_BUFFER:
                raise AssertionError("unbounded output")

    def is_closed(self, wait=0.5):
        try:
            self.read_until_eof(wait)
            return True
        except TimeoutError:
            return False

    def starttls(self, context=None, server_hostname=None):
        """STARTTLS; asserts 220 and that nothing else was sent in the clear."""
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b"", f"plaintext after 220: {self.buf!r}"
        ctx = context or client_tls_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return r

    def ehlo(self, name="client.example.net"):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def auth_plain(self, user, password):
        return self.cmd(f"AUTH PLAIN {plain_auth_blob(user, password)}")

    def data(self, msg, stuff=True):
        """DATA with msg (CRLF-terminated), returns the final reply."""
        r = self.cmd("DATA")
        assert r.code == 354, r
        self.send((dot_stuff(msg) if stuff else msg) + b".\r\n")
        return self.read_reply()

    def quit(self):
        try:
            r = self.cmd("QUIT")
            assert r.code == 221, r
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
