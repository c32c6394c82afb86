"""tests/peers.py's private Dovecot as bench/pop3.py, imap.py, imap_idle.py
and resync.py use it: POP3 alone (no IMAP listener), plaintext login
against a password given as a "{SCHEME}hash" (the benches hand Dovecot
Postel's own hashes so a login costs both servers alike), the maildrop
in dv.maildir(user), the instance in the caller's directory."""
import os
import pathlib
import poplib
import shutil
import subprocess
import tempfile

import pytest

from peers import DOVECOT, NOBODY, Dovecot, missing

USER = "bench0@bench.example"
PASSWORD = "peer-bench-pw"


def hashed(password):
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", "peersalt", password],
                         check=True, capture_output=True, timeout=30)
    return "{CRYPT}" + out.stdout.decode().strip()


@pytest.fixture
def work():
    """A work directory as the benches make one: Dovecot's auth process
    (not root) must reach the passwd-file in it, so not pytest's 0700
    tmp_path."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="peer-bench-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_pop3_only_with_a_crypt_hash(work):
    reason = missing(DOVECOT)
    if reason:
        pytest.skip(f"{reason} (scripts/install-deps.sh check installs it)")
    where = work / "dovecot"
    dv = Dovecot(plain=True, host="127.0.0.1", protocols="pop3",
                 users={USER: hashed(PASSWORD)}, where=where)
    assert dv.imap is None and dv.imaps is None and dv.pop3s == 0
    assert dv.ports() == [dv.pop3]
    md = dv.maildir(USER)
    for sub in ("new", "cur", "tmp"):
        (md / sub).mkdir(parents=True)
    (md / "new" / "1.peer.test").write_bytes(b"Subject: one\n\nbody\n")
    for root, dirs, files in os.walk(md.parent):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, NOBODY, NOBODY)
    assert (where / "passwd").read_text().startswith(f"{USER}:{{CRYPT}}$6$")
    assert dv.pid is None
    dv.start()
    try:
        # the master's pid, which the benches read (bench/imap.py, pop3.py)
        assert pathlib.Path(f"/proc/{dv.pid}/comm").read_text().strip() == "dovecot"
        pop = poplib.POP3("127.0.0.1", dv.pop3, timeout=10)
        try:
            pop.user(USER)
            pop.pass_(PASSWORD)
            assert pop.stat()[0] == 1
            assert b"body" in b"\n".join(pop.retr(1)[1])
        finally:
            pop.quit()
        bad = poplib.POP3("127.0.0.1", dv.pop3, timeout=10)
        try:
            bad.user(USER)
            with pytest.raises(poplib.error_proto):
                bad.pass_("{CRYPT}" + PASSWORD)  # the hash is checked, not compared
        finally:
            bad.close()
    finally:
        dv.stop()
    assert dv.pid is None
    assert not where.exists()
