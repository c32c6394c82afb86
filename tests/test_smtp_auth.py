"""SASL on the submission ports (catalogue items 18-20): PLAIN, LOGIN and
SCRAM-SHA-256 (a small RFC 5802 client written here, checking the server's
signature), malformed input, cancellation, fresh state after a failure,
the growing delay for repeated failures from one address (and none for
others), and no secret in the logs.

Every test that fails an authentication uses its own client address
(127.0.0.N) so that the failure delay of one test does not slow another."""
import base64
import hashlib
import hmac
import itertools
import os
import time

import pytest

from conftest import ALICE, BOB, USERS, b64, plain_auth_blob, scaled, SMTPConn

_ips = itertools.count(20)


def fresh_ip():
    return f"127.0.0.{next(_ips)}"


def conn465(srv, ip=None):
    c = srv.submissions(source=ip or fresh_ip())
    c.ehlo()
    return c


def assert_not_authed(c):
    r = c.cmd(f"MAIL FROM:<{ALICE}>")
    assert r.code == 530, f"not authenticated, yet MAIL got {r!r}"


def assert_authed_as(c, user):
    r = c.cmd(f"MAIL FROM:<{user}>")
    assert r.code == 250, r
    assert c.cmd("RSET").code == 250


# --------------------------------------------------------------------------
# PLAIN and LOGIN


def test_plain_initial_response(postel):
    with conn465(postel) as c:
        r = c.auth_plain(ALICE, USERS[ALICE])
        assert (r.code, r.enhanced) == (235, "2.7.0"), r
        assert_authed_as(c, ALICE)
        r = c.auth_plain(ALICE, USERS[ALICE])
        assert r.code == 503, r
        c.quit()


def test_plain_with_challenge(postel):
    with conn465(postel) as c:
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334 and r.text.strip() == "", r
        r = c.cmd(plain_auth_blob(BOB, USERS[BOB]))
        assert r.code == 235, r
        assert_authed_as(c, BOB)
        c.quit()


def test_plain_with_authzid_of_another_user(postel):
    """alice's credentials with authzid bob: refused, or alice stays alice."""
    with conn465(postel) as c:
        r = c.cmd(f"AUTH PLAIN {plain_auth_blob(ALICE, USERS[ALICE], authzid=BOB)}")
        assert r.code in (235, 535), r
        if r.code == 235:
            r = c.cmd(f"MAIL FROM:<{BOB}>")
            assert r.code == 553, f"authzid let alice act as bob: {r!r}"
        c.quit()


def test_login(postel):
    with conn465(postel) as c:
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334, r
        assert base64.b64decode(r.text).lower().startswith(b"username"), r
        r = c.cmd(b64(ALICE))
        assert r.code == 334, r
        assert base64.b64decode(r.text).lower().startswith(b"password"), r
        r = c.cmd(b64(USERS[ALICE]))
        assert (r.code, r.enhanced) == (235, "2.7.0"), r
        assert_authed_as(c, ALICE)
        c.quit()


def test_login_with_initial_response(postel):
    with conn465(postel) as c:
        r = c.cmd(f"AUTH LOGIN {b64(BOB)}")
        assert r.code == 334, r
        r = c.cmd(b64(USERS[BOB]))
        assert r.code == 235, r
        c.quit()


def test_login_on_587_after_starttls(postel):
    with postel.submission(source=fresh_ip()) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.cmd("AUTH LOGIN").code == 334
        assert c.cmd(b64(BOB)).code == 334
        assert c.cmd(b64(USERS[BOB])).code == 235
        assert_authed_as(c, BOB)
        c.quit()


# --------------------------------------------------------------------------
# catalogue 18: malformed AUTH


@pytest.mark.parametrize("arg", ["PLAIN !!!notbase64!!!", "PLAIN YWJj*", "PLAIN Y",
                                 "PLAIN =====", "LOGIN %%%%"])
def test_bad_base64_initial_response(postel, arg):
    with conn465(postel) as c:
        r = c.cmd(f"AUTH {arg}")
        assert r.code == 501, r
        assert_not_authed(c)
        c.quit()


def test_bad_base64_in_continuation(postel):
    with conn465(postel) as c:
        assert c.cmd("AUTH PLAIN").code == 334
        r = c.cmd("not base64 at all")
        assert r.code == 501, r
        # back in command state
        assert c.cmd("NOOP").code == 250
        assert_not_authed(c)
        c.quit()


@pytest.mark.parametrize("blob", [
    f"{ALICE}\0{USERS[ALICE]}",                    # one NUL
    f"\0{ALICE}\0{USERS[ALICE]}\0",                # three NULs
    f"\0{ALICE}\0{USERS[ALICE]}\0extra",
    f"{ALICE}{USERS[ALICE]}",                      # none
    f"\0\0{USERS[ALICE]}",                         # empty authcid
    f"\0{ALICE}\0",                                # empty password
], ids=["one-nul", "three-nul", "trailing-field", "no-nul", "empty-user", "empty-pass"])
def test_plain_wrong_nul_count(postel, blob):
    with conn465(postel) as c:
        r = c.cmd(f"AUTH PLAIN {b64(blob.encode())}")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        assert_not_authed(c)
        c.quit()


def test_plain_bad_password(postel):
    with conn465(postel) as c:
        r = c.auth_plain(ALICE, USERS[ALICE] + "x")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        assert_not_authed(c)
        c.quit()


def test_plain_unknown_user(postel):
    with conn465(postel) as c:
        r = c.auth_plain("nobody@example.org", "whatever")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        c.quit()


def test_plain_invalid_utf8(postel):
    with conn465(postel) as c:
        r = c.cmd("AUTH PLAIN " + b64(b"\0\xff\xfe" + ALICE.encode() + b"\0pw\xc3"))
        assert r.code in (535, 501), r
        assert c.cmd("NOOP").code == 250
        assert_not_authed(c)
        c.quit()


def test_huge_auth_response(postel):
    with conn465(postel) as c:
        assert c.cmd("AUTH PLAIN").code == 334
        r = c.cmd(b64(b"\0" + b"a" * 48000 + b"\0b"))      # 64 KB of base64
        assert r.code in (500, 501, 535), r
        assert r.code != 235
        assert c.cmd("NOOP").code == 250
        assert_not_authed(c)
        c.quit()
    with conn465(postel) as c:
        r = c.cmd("AUTH PLAIN " + b64(b"\0" + b"a" * 48000 + b"\0b"))
        assert r.code in (500, 501), r
        assert c.cmd("NOOP").code == 250
        assert_not_authed(c)
        c.quit()


def test_cancel_with_star(postel):
    with conn465(postel) as c:
        assert c.cmd("AUTH PLAIN").code == 334
        r = c.cmd("*")
        assert r.code == 501, r
        assert c.cmd("AUTH LOGIN").code == 334
        assert c.cmd(b64(ALICE)).code == 334
        r = c.cmd("*")
        assert r.code == 501, r
        assert_not_authed(c)
        # and a real AUTH afterwards works
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        c.quit()


def test_fresh_state_after_failure(postel):
    with conn465(postel) as c:
        # LOGIN half done, then abandoned by a bad base64 line
        assert c.cmd("AUTH LOGIN").code == 334
        assert c.cmd(b64(BOB)).code == 334
        assert c.cmd("@@@").code == 501
        # PLAIN fails
        r = c.auth_plain(ALICE, "wrong")
        assert r.code == 535, r
        # LOGIN from scratch succeeds: nothing of bob's half-done LOGIN is left
        assert c.cmd("AUTH LOGIN").code == 334
        assert c.cmd(b64(ALICE)).code == 334
        r = c.cmd(b64(USERS[ALICE]), timeout=20)
        assert r.code == 235, r
        assert_authed_as(c, ALICE)
        r = c.cmd(f"MAIL FROM:<{BOB}>")
        assert r.code == 553, r
        c.quit()


def test_unknown_mechanism_and_syntax(postel):
    with conn465(postel) as c:
        r = c.cmd("AUTH CRAM-MD5")
        assert (r.code, r.enhanced) == (504, "5.5.4"), r
        r = c.cmd("AUTH")
        assert r.code == 501, r
        r = c.cmd("AUTH PLAIN a b")
        assert r.code == 501, r
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        c.quit()


# --------------------------------------------------------------------------
# catalogue 20: plaintext AUTH before TLS


def test_auth_before_tls_538_on_587_and_25(postel):
    for port in (postel.submission_port, postel.smtp_port):
        with SMTPConn(port, source=fresh_ip()) as c:
            r = c.ehlo()
            assert "AUTH" not in r.keywords()
            r = c.cmd(f"AUTH PLAIN {plain_auth_blob(ALICE, USERS[ALICE])}")
            assert r.code == 538, r
            assert r.enhanced == "5.7.11", r
            c.quit()


# --------------------------------------------------------------------------
# SCRAM-SHA-256 (RFC 5802, RFC 7677)


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def scram(c, user, password, gs2="n,,", tamper_nonce=False, bad_proof=False):
    """Runs SCRAM-SHA-256 on c; returns (final reply, server-first attrs)."""
    cnonce = b64(os.urandom(18))
    saslname = user.replace("=", "=3D").replace(",", "=2C")
    cfb = f"n={saslname},r={cnonce}"
    r = c.cmd("AUTH SCRAM-SHA-256 " + b64(gs2 + cfb))
    if r.code != 334:
        return r, None
    sfirst = base64.b64decode(r.text).decode()
    attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
    nonce = attrs["r"]
    assert nonce.startswith(cnonce) and len(nonce) > len(cnonce), sfirst
    salt = base64.b64decode(attrs["s"])
    iterations = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    if tamper_nonce:
        nonce = nonce[:-1] + ("A" if nonce[-1] != "A" else "B")
    cfwp = f"c={b64(gs2)},r={nonce}"
    auth_message = f"{cfb},{sfirst},{cfwp}".encode()
    proof = bytes(a ^ b for a, b in zip(client_key, _hmac(stored_key, auth_message)))
    if bad_proof:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    r = c.cmd(b64(f"{cfwp},p={b64(proof)}"), timeout=20)
    if r.code != 334:
        return r, attrs
    sfinal = base64.b64decode(r.text).decode()
    if sfinal.startswith("e="):
        return c.cmd("", timeout=20), attrs
    assert sfinal.startswith("v="), sfinal
    server_key = _hmac(salted, b"Server Key")
    assert base64.b64decode(sfinal[2:]) == _hmac(server_key, auth_message), \
        "server signature does not verify: the server does not know the password"
    return c.cmd(""), attrs


def test_scram_sha256_success(postel):
    with conn465(postel) as c:
        r, attrs = scram(c, ALICE, USERS[ALICE])
        assert (r.code, r.enhanced) == (235, "2.7.0"), r
        assert int(attrs["i"]) >= 4096, attrs
        assert len(base64.b64decode(attrs["s"])) >= 16, attrs
        assert_authed_as(c, ALICE)
        c.quit()


def test_scram_sha256_on_587(postel):
    with postel.submission(source=fresh_ip()) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r, _ = scram(c, BOB, USERS[BOB])
        assert r.code == 235, r
        assert_authed_as(c, BOB)
        c.quit()


def test_scram_non_ascii_password_saslprep(postel):
    """RFC 5802 2.2: the keys are derived from SASLprep(password), so a
    client that prepares the password (soft hyphen dropped, ROMAN NUMERAL
    NINE to "IX", RFC 4013 3) logs in; PLAIN still takes it as typed."""
    user = "saslprep@" + ALICE.split("@")[1]
    typed = "\u2168pen\u00adcil"
    postel.add_user(user, typed)
    with conn465(postel) as c:
        r, _ = scram(c, user, "IXpencil")
        assert (r.code, r.enhanced) == (235, "2.7.0"), r
        assert_authed_as(c, user)
        c.quit()
    with conn465(postel) as c:
        r = c.cmd("AUTH PLAIN " + plain_auth_blob(user, typed))
        assert r.code == 235, r
        c.quit()


def test_scram_gs2_y_without_plus(postel):
    """'y': the client could bind but thinks the server cannot. Fine, unless
    the server advertised SCRAM-SHA-256-PLUS (RFC 5802 6: downgrade)."""
    with conn465(postel) as c:
        mechs = c.ehlo().keywords()["AUTH"].upper().split()
        r, _ = scram(c, ALICE, USERS[ALICE], gs2="y,,")
        if "SCRAM-SHA-256-PLUS" in mechs:
            assert r.code == 535, r
        else:
            assert r.code == 235, r
        c.quit()


def test_scram_wrong_password(postel):
    with conn465(postel) as c:
        r, _ = scram(c, ALICE, "not the password")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
        assert_not_authed(c)
        c.quit()


def test_scram_bad_proof_and_nonce(postel):
    with conn465(postel) as c:
        r, _ = scram(c, ALICE, USERS[ALICE], bad_proof=True)
        assert r.code == 535, r
        c.quit()
    with conn465(postel) as c:
        r, _ = scram(c, ALICE, USERS[ALICE], tamper_nonce=True)
        assert r.code in (535, 501), r
        assert_not_authed(c)
        c.quit()


def test_scram_channel_binding_not_offered(postel):
    with conn465(postel) as c:
        r, _ = scram(c, ALICE, USERS[ALICE], gs2="p=tls-unique,,")
        assert r.code in (535, 501), r
        assert_not_authed(c)
        c.quit()


@pytest.mark.parametrize("first", ["n,,", "x,,n=alice@example.org,r=abc", "n,,r=abc",
                                   "n,,n=alice@example.org",
                                   "n,,m=ext,n=alice@example.org,r=abc",
                                   "n,a=bob@example.org,n=alice@example.org,r=abc,"])
def test_scram_malformed_client_first(postel, first):
    with conn465(postel) as c:
        r = c.cmd("AUTH SCRAM-SHA-256 " + b64(first))
        if r.code == 334:
            # a server may defer the verdict; the exchange must not succeed
            r = c.cmd(b64("c=biws,r=abc,p=" + b64(b"x" * 32)), timeout=20)
            if r.code == 334:
                r = c.cmd("", timeout=20)
        assert r.code in (535, 501), r
        assert c.cmd("NOOP").code == 250
        assert_not_authed(c)
        c.quit()


def test_scram_empty_initial_response(postel):
    with conn465(postel) as c:
        r = c.cmd("AUTH SCRAM-SHA-256 =")
        # an empty client-first message is invalid; or the server asks again
        if r.code == 334:
            r = c.cmd("*")
            assert r.code == 501, r
        else:
            assert r.code in (535, 501), r
        assert_not_authed(c)
        c.quit()


def test_scram_unknown_user(postel):
    with conn465(postel) as c:
        r, _ = scram(c, "nobody@example.org", "x")
        assert r.code == 535, r
        c.quit()


# --------------------------------------------------------------------------
# catalogue 19: growing delay per address; others unaffected


def timed_fail(c, password="wrong-password"):
    t0 = time.monotonic()
    r = c.auth_plain(ALICE, password)
    # the delay may reach 15 s
    return r, time.monotonic() - t0


def undelayed_limit(srv):
    """How long an undelayed answer may take: the time a password check
    takes here (slow under sanitizers) plus 0.6 s. A failure delay adds at
    least 1 s, so the two stay apart."""
    best = None
    for _ in range(2):
        with conn465(srv) as c:
            t0 = time.monotonic()
            assert c.auth_plain(BOB, USERS[BOB]).code == 235
            t = time.monotonic() - t0
            best = t if best is None else min(best, t)
            c.quit()
    return best + 0.6


def test_repeated_failures_same_connection_delayed(postel):
    fast = undelayed_limit(postel)
    ip, other = fresh_ip(), fresh_ip()
    with conn465(postel, ip) as c:
        c.timeout = scaled(30)
        r, t1 = timed_fail(c)
        assert r.code == 535, r
        assert t1 < fast, f"first failure already delayed {t1:.2f}s"
        r, t2 = timed_fail(c)
        assert r.code == 535, r
        assert t2 >= 0.9, f"second failure from {ip} answered after {t2:.2f}s"
        r, t3 = timed_fail(c)
        assert r.code == 535, r
        assert t3 >= t2 + 0.5, f"delay not growing: {t2:.2f}s then {t3:.2f}s"
        c.quit()
    # another address is not slowed down, for a success or a failure (in
    # that order: after a failure, a success from the same address waits
    # like a wrong password would, TESTING.md item 33)
    with conn465(postel, other) as c:
        t0 = time.monotonic()
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        assert time.monotonic() - t0 < fast
        c.quit()
    with conn465(postel, other) as c:
        r, t = timed_fail(c)
        assert r.code == 535 and t < fast, (r, t)
        c.quit()


def test_repeated_failures_across_connections_delayed(postel):
    """An attacker reconnecting for every guess is slowed down just the same,
    whichever worker process gets the connection."""
    fast = undelayed_limit(postel)
    ip = fresh_ip()
    delays = []
    for _ in range(4):
        with conn465(postel, ip) as c:
            c.timeout = scaled(30)
            r, t = timed_fail(c)
            assert r.code == 535, r
            delays.append(t)
            c.close()
    assert delays[0] < fast, delays
    assert all(d >= 0.9 for d in delays[1:]), \
        f"failures 2-4 from {ip} on new connections not all delayed: {delays}"


def test_delay_does_not_block_other_clients(postel):
    """While one address waits out its delay, another is served at once."""
    fast = undelayed_limit(postel)
    ip = fresh_ip()
    slow = conn465(postel, ip)
    slow.timeout = scaled(30)
    try:
        assert timed_fail(slow)[0].code == 535
        slow.send(f"AUTH PLAIN {plain_auth_blob(ALICE, 'wrong')}\r\n".encode())
        t0 = time.monotonic()
        with conn465(postel) as c:
            assert c.auth_plain(BOB, USERS[BOB]).code == 235
            assert c.cmd("NOOP").code == 250
            c.quit()
        assert time.monotonic() - t0 < fast + 0.3
        r = slow.read_reply(timeout=20)
        assert r.code == 535, r
        assert time.monotonic() - t0 >= 0.8
    finally:
        slow.close()


# --------------------------------------------------------------------------
# no secret in the log (runs last in this module)


def test_zz_no_password_in_log(postel):
    log = postel.log()
    assert log, "empty log"
    for user, password in USERS.items():
        for secret in (password, b64(password), plain_auth_blob(user, password),
                       b64(password)[:-2] if b64(password).endswith("=") else b64(password)):
            assert secret not in log, f"secret {secret!r} of {user} in the log"
    assert "wrong-password" not in log
    assert "not the password" not in log
    # failed and successful authentications are logged, with the session id
    assert any("sid=" in x and "auth" in x.lower() for x in log.splitlines())


def test_allow_plaintext_auth(postel_factory):
    srv = postel_factory(allow_plaintext_auth="yes")
    with srv.submission(source=fresh_ip()) as c:
        r = c.ehlo()
        kw = r.keywords()
        assert "AUTH" in kw and "STARTTLS" in kw, r.lines
        assert c.auth_plain(ALICE, USERS[ALICE]).code == 235
        assert_authed_as(c, ALICE)
        c.quit()
