"""Small loopback servers for the `postel probe` tests: a port that accepts
and never speaks, and a scripted SMTP/IMAP/POP3 server with implicit TLS or
STARTTLS and certificates made here with `openssl` (expired, wrong name,
signed by a test CA). Every socket has a timeout, every loop is bounded,
only 127.0.0.1 is used; each server is a daemon thread stopped by close()."""
import http.server
import pathlib
import socket
import ssl
import subprocess
import threading


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()


class ProbeCA:
    """A CA and server certificates it signs (valid, expired, other names)."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.crt", "-subj", "/CN=Postel Probe Test CA", "-days", "30",
                cwd=self.dir)
        self.ca = self.dir / "ca.crt"

    def issue(self, name, cn, san, days):
        """A certificate for cn and san (a name or a list of names) valid
        `days` days (-1: expired yesterday)."""
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=self.dir)
        ext = self.dir / f"{name}.ext"
        names = [san] if isinstance(san, str) else list(san)
        ext.write_text("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", str(days),
                "-extfile", str(ext), cwd=self.dir)
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"


def https_server(handler, cert, key):
    """A threading HTTP server over TLS on 127.0.0.1:free port, serving
    handler in a daemon thread; stop it with shutdown() and server_close().
    The MTA-STS policy host of the probe and relay tests."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class FakeServer:
    """Listens on 127.0.0.1:free port; handle(conn) runs per connection."""

    def __init__(self, handle, max_conns=20):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.max_conns = max_conns
        self.stopping = False
        self.conns = []
        self.errors = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        served = 0
        while not self.stopping and served < self.max_conns:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            served += 1
            conn.settimeout(10)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handle(conn)
        except (OSError, ssl.SSLError, ValueError) as e:
            self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(timeout=5)


def silent(conn):
    """Accept and never speak: wait until the client gives up."""
    conn.settimeout(15)
    try:
        while conn.recv(4096):
            pass
    except socket.timeout:
        pass


class Lines:
    """Line I/O over a socket that may be swapped for a TLS one."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, text):
        self.sock.sendall(text.encode("latin-1") if isinstance(text, str) else text)

    def line(self):
        for _ in range(1000):
            if b"\n" in self.buf:
                line, _, self.buf = self.buf.partition(b"\n")
                return line.rstrip(b"\r").decode("latin-1")
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data
        return None

    def starttls(self, ctx):
        self.buf = b""
        self.sock = ctx.wrap_socket(self.sock, server_side=True)


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def smtp_handler(ctx, implicit=False, greeting="220 fake.example ESMTP ready",
                 auth_before_tls=False, users=None, starttls=True):
    """A scripted SMTP server: EHLO, STARTTLS, AUTH PLAIN, QUIT."""
    users = users or {}

    def handle(conn):
        io = Lines(ctx.wrap_socket(conn, server_side=True) if implicit else conn)
        tls = implicit
        io.send((greeting.encode("latin-1") if isinstance(greeting, str) else greeting)
                + b"\r\n")
        for _ in range(50):
            line = io.line()
            if line is None:
                return
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                keys = ["PIPELINING", "SIZE 1000000"]
                if not tls and starttls:
                    keys.append("STARTTLS")
                if tls or auth_before_tls:
                    keys.append("AUTH PLAIN LOGIN")
                out = ["250-fake.example"] + [f"250-{k}" for k in keys[:-1]] + [f"250 {keys[-1]}"]
                io.send("\r\n".join(out) + "\r\n")
            elif verb == "STARTTLS" and not tls:
                io.send("220 2.0.0 go ahead\r\n")
                io.starttls(ctx)
                tls = True
            elif verb == "AUTH":
                import base64
                parts = line.split(" ")
                blob = base64.b64decode(parts[2]).split(b"\0") if len(parts) > 2 else []
                if len(blob) == 3 and users.get(blob[1].decode()) == blob[2].decode():
                    io.send("235 2.7.0 Authentication successful\r\n")
                else:
                    io.send("535 5.7.8 Authentication credentials invalid\r\n")
            elif verb == "QUIT":
                io.send("221 2.0.0 bye\r\n")
                return
            else:
                io.send("502 5.5.2 what\r\n")
    return handle


def imap_handler(ctx, implicit=True, sasl_ir=True, users=None):
    """A scripted IMAP server: greeting with capabilities, CAPABILITY,
    STARTTLS, AUTHENTICATE PLAIN (with or without SASL-IR), LOGOUT."""
    users = users or {}

    def handle(conn):
        io = Lines(ctx.wrap_socket(conn, server_side=True) if implicit else conn)
        tls = implicit

        def caps():
            ir = " SASL-IR" if sasl_ir else ""
            return f"IMAP4rev1{ir} AUTH=PLAIN LOGINDISABLED" if tls else \
                "IMAP4rev1 STARTTLS LOGINDISABLED"
        io.send(f"* OK [CAPABILITY {caps()}] fake IMAP ready\r\n")
        for _ in range(50):
            line = io.line()
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            cmd = rest.split(" ")[0].upper()
            if cmd == "CAPABILITY":
                io.send(f"* CAPABILITY {caps()}\r\n{tag} OK done\r\n")
            elif cmd == "STARTTLS" and not tls:
                io.send(f"{tag} OK begin TLS\r\n")
                io.starttls(ctx)
                tls = True
            elif cmd == "AUTHENTICATE" and tls:
                import base64
                args = rest.split(" ")
                if len(args) > 2 and not sasl_ir:
                    io.send(f"{tag} BAD no SASL-IR here\r\n")
                    continue
                if len(args) > 2:
                    blob = args[2]
                else:
                    io.send("+ \r\n")
                    blob = io.line() or ""
                parts = base64.b64decode(blob).split(b"\0")
                if len(parts) == 3 and users.get(parts[1].decode()) == parts[2].decode():
                    io.send(f"{tag} OK [CAPABILITY IMAP4rev1] Logged in\r\n")
                else:
                    io.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
            elif cmd == "LOGOUT":
                io.send(f"* BYE bye\r\n{tag} OK done\r\n")
                return
            else:
                io.send(f"{tag} BAD unknown\r\n")
    return handle
