"""The remote MX hosts of the relay tests (test_relay_faults.py): Postfix's
smtp-sink as a private process, and RawMX, a scripted SMTP server in a
thread that records the wire. Loopback only; every wait is bounded."""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import scaled

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """A private smtp-sink on 127.0.0.1:port with the given options; every
    transaction is appended to self.dump (-D)."""

    def __init__(self, port, *opts):
        if not os.access(SMTP_SINK, os.X_OK):
            pytest.skip(f"{SMTP_SINK} is not installed (postfix package)")
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="relay-sink-", dir="/tmp"))
        os.chmod(self.dir, 0o777)
        self.dump = self.dir / "dump"
        args = [SMTP_SINK, "-D", str(self.dump), "-t", "30"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [*opts, f"127.0.0.1:{port}", "64"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + scaled(10)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        err = self.proc.stderr.read() if self.proc.poll() is not None else b""
        self.stop()
        raise AssertionError(f"smtp-sink did not listen on {port}: {err!r}")

    def transactions(self):
        """The dumped transactions, each the bytes smtp-sink wrote."""
        try:
            data = self.dump.read_bytes()
        except OSError:
            return []
        return [b"X-Client-Addr:" + t for t in data.split(b"X-Client-Addr:")[1:]]

    def wait(self, n, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while len(self.transactions()) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.transactions()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class RawMX:
    """A scripted SMTP server on 127.0.0.1:port in a thread, one session at
    a time, each bounded in time. caps: the EHLO keywords. self.sessions:
    per session, the commands and the raw message bytes (DATA up to and
    with the final dot, or the concatenated BDAT chunks)."""

    def __init__(self, port, caps):
        self.caps = caps
        self.sessions = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(scaled(10))
                try:
                    self._session(conn)
                except (OSError, ValueError):
                    pass

    def _session(self, conn):
        s = {"commands": [], "data": b"", "bdat": []}
        with self.lock:
            self.sessions.append(s)
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                more = conn.recv(65536)
                if not more:
                    raise ValueError("eof")
                buf += more
            out, _, buf = buf.partition(b"\r\n")
            return out

        def exact(n):
            nonlocal buf
            while len(buf) < n:
                more = conn.recv(65536)
                if not more:
                    raise ValueError("eof")
                buf += more
            out, buf = buf[:n], buf[n:]
            return out

        conn.sendall(b"220 rawmx ESMTP\r\n")
        for _ in range(1000):
            cmd = line()
            with self.lock:
                s["commands"].append(cmd)
            verb = cmd.split(b" ")[0].upper()
            if verb == b"EHLO":
                keys = ["rawmx"] + self.caps
                conn.sendall("".join(f"250{'-' if i < len(keys) - 1 else ' '}{k}\r\n"
                                     for i, k in enumerate(keys)).encode())
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += line() + b"\r\n"
                with self.lock:
                    s["data"] = data
                conn.sendall(b"250 2.0.0 accepted\r\n")
            elif verb == b"BDAT":
                parts = cmd.split(b" ")
                chunk = exact(int(parts[1]))
                with self.lock:
                    s["bdat"].append(chunk)
                    s["data"] += chunk
                conn.sendall(b"250 2.0.0 chunk ok\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 ok\r\n")

    def wait_data(self, timeout):
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            with self.lock:
                done = [s for s in self.sessions if s["data"]
                        and any(c.upper().startswith(b"QUIT") for c in s["commands"])]
            if done:
                return done[0]
            time.sleep(0.05)
        return None

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=10)
        self.sock.close()
