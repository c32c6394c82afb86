"""`postel probe --dns` against a loopback DNS server (probe_dns_server.py,
dnslib) holding a good mail domain and broken ones, and a loopback HTTPS
server for the MTA-STS policies (certificate from a test CA). Asserts each
check's verdict and fix, the table, the JSON and the exit status; the
resolver check (dead resolver, broken zone) and DNSSEC (no validation,
a zone signed with dnssec-signzone: secure and bogus answers). No
address in the zones is ever connected to: they are only DNS data."""
import http.server
import json
import re
import shutil
import subprocess
import time

import pytest

from conftest import POSTEL_BIN, free_ports, scaled
from probe_dns_server import ZoneServer
from probe_fakes import ProbeCA, https_server, openssl


def dkim_key(directory, bits):
    """The base64 of a fresh RSA public key (DER), for a DKIM p= tag."""
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
            "-out", f"dkim{bits}.key", cwd=directory)
    openssl("pkey", "-in", f"dkim{bits}.key", "-pubout", "-out", f"dkim{bits}.pub",
            cwd=directory)
    pem = (directory / f"dkim{bits}.pub").read_text()
    return "".join(l for l in pem.splitlines() if not l.startswith("-----"))


def txt(value):
    """A TXT rdata of 200-byte character-strings (RFC 1035 3.3.14)."""
    return " ".join(f'"{value[i:i + 200]}"' for i in range(0, len(value), 200))


POLICIES = {
    "mta-sts.good.example": "version: STSv1\r\nmode: enforce\r\nmx: mx.good.example\r\n"
                            "mx: *.good.example\r\nmax_age: 86400\r\n",
    "mta-sts.bad.example": "version: STSv1\nmode: enforce\nmx: mail.bad.example\n"
                           "max_age: 604800\n",
    "mta-sts.testing.example": "version: STSv1\nmode: testing\nmx: mx.testing.example\n"
                               "max_age: 3600\n",
    # a good policy sent as text/html, which RFC 8461 3.2 does not accept
    "mta-sts.html.example": "version: STSv1\nmode: enforce\nmx: mx.html.example\n"
                            "max_age: 3600\n",
}


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        body = POLICIES.get(host)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type",
                         "text/html" if host == "mta-sts.html.example" else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe-dns")
    ca = ProbeCA(d)
    cert, key = ca.issue("sts", "mta-sts.good.example",
                         ["mta-sts.good.example", "mta-sts.bad.example",
                          "mta-sts.testing.example", "mta-sts.html.example"], 30)
    good_key = dkim_key(d, 2048)
    weak_key = dkim_key(d, 1024)
    zone = f"""
good.example. 300 IN MX 10 mx.good.example.
good.example. 300 IN MX 20 mx2.good.example.
mx.good.example. 300 IN A 45.33.1.10
mx2.good.example. 300 IN AAAA 2a01:4f8:1:2::10
10.1.33.45.in-addr.arpa. 300 IN PTR mx.good.example.
0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.f.4.0.1.0.a.2.ip6.arpa. 300 IN PTR mx2.good.example.
good.example. 300 IN TXT "v=spf1 mx include:_spf.good.example -all"
good.example. 300 IN TXT "site-verification=abc"
_spf.good.example. 300 IN TXT "v=spf1 ip4:45.33.1.0/24 ip6:2a01:4f8:1:2::/64 ~all"
_dmarc.good.example. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.example"
sel._domainkey.good.example. 300 IN TXT {txt("v=DKIM1; k=rsa; p=" + good_key)}
weak._domainkey.good.example. 300 IN TXT {txt("v=DKIM1; p=" + weak_key)}
_mta-sts.good.example. 300 IN TXT "v=STSv1; id=20260101"
_25._tcp.mx.good.example. 300 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

bad.example. 300 IN MX 10 nohost.bad.example.
bad.example. 300 IN MX 20 mx.bad.example.
mx.bad.example. 300 IN A 45.33.2.20
20.2.33.45.in-addr.arpa. 300 IN PTR other.bad.example.
bad.example. 300 IN TXT "v=spf1 include:s1.bad.example include:s2.bad.example include:s3.bad.example include:s4.bad.example -all"
s1.bad.example. 300 IN TXT "v=spf1 a mx ~all"
s2.bad.example. 300 IN TXT "v=spf1 a mx ~all"
s3.bad.example. 300 IN TXT "v=spf1 a mx exists:x.bad.example ~all"
s4.bad.example. 300 IN TXT "v=spf1 a mx ~all"
_dmarc.bad.example. 300 IN TXT "v=DMARC1; p=none"
sel._domainkey.bad.example. 300 IN TXT "v=DKIM1; k=rsa; p="
_mta-sts.bad.example. 300 IN TXT "v=STSv1; id=1"
_25._tcp.mx.bad.example. 300 IN TLSA 3 1 1 0123

syntax.example. 300 IN MX 0 .
syntax.example. 300 IN TXT "v=spf1 ip4:300.1.1.1 -all"
_dmarc.syntax.example. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.syntax.example. 300 IN TXT "v=DMARC1; p=none"
_mta-sts.syntax.example. 300 IN TXT "v=STSv1; id=has-dashes"

nomx.example. 300 IN TXT "v=spf1 +all"
nomx.example. 300 IN TXT "v=spf1 -all"
_dmarc.nomx.example. 300 IN TXT "v=DMARC1; rua=mailto:x@nomx.example"
_mta-sts.nomx.example. 300 IN TXT "v=STSv1; id=abc"

testing.example. 300 IN MX 10 mx.testing.example.
mx.testing.example. 300 IN A 45.33.3.30
30.3.33.45.in-addr.arpa. 300 IN PTR mx.testing.example.
testing.example. 300 IN TXT "v=spf1 mx"
_dmarc.testing.example. 300 IN TXT "v=DMARC1; p=quarantine"
_mta-sts.testing.example. 300 IN TXT "v=STSv1; id=7"

html.example. 300 IN MX 10 mx.html.example.
mx.html.example. 300 IN A 45.33.4.40
_mta-sts.html.example. 300 IN TXT "v=STSv1; id=8"
"""
    dns = ZoneServer(zone, servfail=["broken.example"])
    httpd = https_server(PolicyHandler, cert, key)
    try:
        yield {"dns": dns, "ca": ca, "sts": f"127.0.0.1:{httpd.server_address[1]}"}
    finally:
        httpd.shutdown()
        httpd.server_close()
        dns.close()


def probe_dns(env, domain, *extra, json_out=False):
    args = [POSTEL_BIN, "probe", "--dns", domain, "--resolver", env["dns"].address,
            "--mta-sts-host", env["sts"], "--cafile", str(env["ca"].ca),
            "--timeout", "3", *extra]
    if "--trust-anchor" not in extra:
        # the same on every machine, whether dns-root-data is installed or not
        args += ["--trust-anchor", "none"]
    if json_out:
        args.append("--json")
    p = subprocess.run(args, capture_output=True, timeout=scaled(60),
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    if json_out:
        doc = json.loads(out)
        assert doc["exit_status"] == p.returncode
        return p.returncode, doc
    return p.returncode, out


def verdicts(doc):
    """{(check, subject): check dict}"""
    return {(c["check"], c["subject"]): c for c in doc["checks"]}


def test_good_domain_all_ok(env):
    rc, doc = probe_dns(env, "good.example", "--selector", "sel", json_out=True)
    v = verdicts(doc)
    assert rc == 0, doc
    assert doc["failed"] == 0
    assert v[("mx", "good.example")]["detail"] == "10 mx.good.example, 20 mx2.good.example"
    assert v[("mx-host", "mx.good.example")]["detail"] == "45.33.1.10"
    assert v[("mx-host", "mx2.good.example")]["detail"] == "2a01:4f8:1:2::10"
    assert v[("fcrdns", "45.33.1.10")]["detail"] == \
        "45.33.1.10 -> mx.good.example -> 45.33.1.10"
    assert v[("fcrdns", "2a01:4f8:1:2::10")]["result"] == "ok"
    spf = v[("spf", "good.example")]
    assert spf["result"] == "ok" and "2 of 10 DNS lookups" in spf["detail"]
    assert v[("dmarc", "_dmarc.good.example")]["detail"] == \
        "p=reject, reports to mailto:dmarc@good.example"
    assert v[("dkim", "sel._domainkey.good.example")]["detail"] == "rsa key, 2048 bits"
    assert v[("mta-sts", "_mta-sts.good.example")]["detail"] == "id=20260101"
    policy = v[("mta-sts-policy", "https://mta-sts.good.example/.well-known/mta-sts.txt")]
    assert policy["result"] == "ok", policy
    assert policy["detail"] == "mode enforce, max_age 86400, mx mx.good.example *.good.example"
    assert v[("tlsa", "_25._tcp.mx.good.example")]["result"] == "ok"
    assert v[("tlsa", "_25._tcp.mx2.good.example")]["result"] == "info"
    for c in doc["checks"]:
        assert (c["fix"] is None) == (c["result"] in ("ok", "info")), c


def test_good_domain_text(env):
    rc, out = probe_dns(env, "good.example")
    assert rc == 0
    assert re.search(r"^mx +good\.example +ok +10 mx\.good\.example", out, re.M), out
    assert re.search(r"^dkim +good\.example +info +not checked", out, re.M), out
    assert "\x1b" not in out
    assert out.rstrip().endswith("No check fails for good.example.")


def test_broken_domain(env):
    rc, doc = probe_dns(env, "bad.example", "--selector", "sel", json_out=True)
    assert rc == 1
    v = verdicts(doc)
    nohost = v[("mx-host", "nohost.bad.example")]
    assert nohost["result"] == "fail" and "no A or AAAA record" in nohost["detail"]
    assert "add an A (or AAAA) record for nohost.bad.example" in nohost["fix"]
    fc = v[("fcrdns", "45.33.2.20")]
    assert fc["result"] == "fail"
    assert fc["detail"] == "PTR is other.bad.example, which does not resolve back to 45.33.2.20"
    spf = v[("spf", "bad.example")]
    assert spf["result"] == "fail" and "more than 10 DNS lookups" in spf["detail"]
    assert "RFC 7208 4.6.4" in spf["detail"] and "ip4:/ip6:" in spf["fix"]
    dmarc = v[("dmarc", "_dmarc.bad.example")]
    assert dmarc["result"] == "warning" and "p=quarantine" in dmarc["fix"]
    dkim = v[("dkim", "sel._domainkey.bad.example")]
    assert dkim["result"] == "fail" and "revoked" in dkim["detail"]
    policy = v[("mta-sts-policy", "https://mta-sts.bad.example/.well-known/mta-sts.txt")]
    assert policy["result"] == "fail"
    assert "MX nohost.bad.example is not in the policy's mx lines" in policy["detail"]
    assert policy["fix"] == 'add "mx: nohost.bad.example" to the policy'
    tlsa = v[("tlsa", "_25._tcp.mx.bad.example")]
    assert tlsa["result"] == "fail" and "malformed" in tlsa["detail"]


def test_broken_domain_text_fixes(env):
    rc, out = probe_dns(env, "bad.example", "--selector", "sel")
    assert rc == 1
    assert re.search(r"^spf +bad\.example +FAIL +more than 10", out, re.M), out
    fixes = out.split("\nFixes:\n")[1]
    assert "- fcrdns 45.33.2.20: make other.bad.example resolve to 45.33.2.20" in fixes
    assert re.search(r"\n\d+ of \d+ checks fail for bad\.example\.\n$", out)


def test_syntax_errors_and_null_mx(env):
    rc, doc = probe_dns(env, "syntax.example", json_out=True)
    assert rc == 1
    v = verdicts(doc)
    assert v[("mx", "syntax.example")]["result"] == "info"
    assert "null MX" in v[("mx", "syntax.example")]["detail"]
    spf = v[("spf", "syntax.example")]
    assert spf["result"] == "fail" and 'bad address in "ip4:300.1.1.1"' in spf["detail"]
    assert v[("dmarc", "_dmarc.syntax.example")]["detail"].startswith("2 records")
    sts = v[("mta-sts", "_mta-sts.syntax.example")]
    assert sts["result"] == "fail" and "no valid id=" in sts["detail"]


def test_no_mx_two_spf_no_policy(env):
    rc, doc = probe_dns(env, "nomx.example", json_out=True)
    assert rc == 1
    v = verdicts(doc)
    mx = v[("mx", "nomx.example")]
    assert mx["result"] == "fail" and mx["detail"].startswith("no MX record")
    assert mx["fix"] == 'add an MX record, e.g. "nomx.example. MX 10 mail.nomx.example."'
    assert "2 SPF records" in v[("spf", "nomx.example")]["detail"]
    assert "no valid p= policy" in v[("dmarc", "_dmarc.nomx.example")]["detail"]
    # a policy host whose certificate does not name it
    policy = v[("mta-sts-policy", "https://mta-sts.nomx.example/.well-known/mta-sts.txt")]
    assert policy["result"] == "fail" and "wrong name" in policy["detail"]


def test_testing_mode_and_missing_all(env):
    rc, doc = probe_dns(env, "testing.example", "--selector", "nosuch", json_out=True)
    v = verdicts(doc)
    assert v[("spf", "testing.example")]["result"] == "warning"
    policy = v[("mta-sts-policy",
                "https://mta-sts.testing.example/.well-known/mta-sts.txt")]
    assert policy["result"] == "warning" and "mode testing" in policy["detail"]
    dkim = v[("dkim", "nosuch._domainkey.testing.example")]
    assert dkim["result"] == "fail" and dkim["detail"] == "no record"
    assert rc == 1


def test_policy_not_text_plain_is_refused(env):
    # the probe checks the reply as the runner does (mta_sts_http_body)
    rc, doc = probe_dns(env, "html.example", json_out=True)
    policy = verdicts(doc)[("mta-sts-policy",
                            "https://mta-sts.html.example/.well-known/mta-sts.txt")]
    assert policy["result"] == "fail" and "not text/plain" in policy["detail"], policy
    assert rc == 1


def test_weak_dkim_key(env):
    rc, doc = probe_dns(env, "good.example", "--selector", "weak", json_out=True)
    dkim = verdicts(doc)[("dkim", "weak._domainkey.good.example")]
    assert dkim["result"] == "warning" and dkim["detail"] == "rsa key, 1024 bits"
    assert rc == 0


def test_nxdomain_not_validated(env):
    """Without DNSSEC validation an NXDOMAIN is the resolver's word only:
    probe says so, next to the verdict and once for the resolver."""
    rc, doc = probe_dns(env, "nosuch.example", json_out=True)
    assert rc == 1
    v = verdicts(doc)
    mx = v[("mx", "nosuch.example")]
    assert mx["detail"].startswith("the domain does not exist (NXDOMAIN, "
                                   "not DNSSEC-validated"), mx
    assert v[("resolver", env["dns"].address)]["result"] == "ok"
    dnssec = v[("dnssec", env["dns"].address)]
    assert dnssec["result"] == "warning"
    assert "not DNSSEC-validated" in dnssec["detail"]
    assert "cannot be trusted" in dnssec["detail"]
    assert "--trust-anchor" in dnssec["fix"]


def test_dead_resolver_is_one_cause(env):
    """A resolver that does not answer is said once, not as a failure of
    every record of the domain."""
    dead = free_ports(1)[0]
    start = time.monotonic()
    p = subprocess.run([POSTEL_BIN, "probe", "--dns", "good.example", "--resolver",
                        f"127.0.0.1@{dead}", "--timeout", "1", "--json",
                        "--trust-anchor", "none"],
                       capture_output=True, timeout=scaled(60))
    assert p.returncode == 1
    doc = json.loads(p.stdout)
    assert [(c["check"], c["result"]) for c in doc["checks"]] == [("resolver", "fail")]
    c = doc["checks"][0]
    assert c["subject"] == f"127.0.0.1@{dead}"
    assert "does not answer" in c["detail"] or "cannot resolve the root" in c["detail"]
    assert "zone" not in c["fix"]
    assert time.monotonic() - start < scaled(15)
    p = subprocess.run([POSTEL_BIN, "probe", "--dns", "good.example", "--resolver",
                        f"127.0.0.1:{dead}", "--timeout", "1", "--trust-anchor", "none"],
                       capture_output=True, timeout=scaled(60))
    out = p.stdout.decode()
    assert p.returncode == 1 and out.rstrip().endswith("1 of 1 checks fail for good.example.")


def test_broken_zone_is_not_the_resolver(env):
    """The resolver answers, the domain's servers fail (SERVFAIL): the
    verdicts blame the zone, and the resolver check is ok."""
    rc, doc = probe_dns(env, "broken.example", json_out=True)
    assert rc == 1
    v = verdicts(doc)
    assert v[("resolver", env["dns"].address)]["result"] == "ok"
    mx = v[("mx", "broken.example")]
    assert mx["result"] == "fail"
    assert "SERVFAIL" in mx["detail"] or "timed out" in mx["detail"], mx
    assert "the zone is at fault" in mx["fix"]


def test_dnssec_validation_failing_through_resolver(env, tmp_path):
    """With a trust anchor, a resolver that passes no DNSSEC records makes
    every answer bogus: one dnssec verdict says so, nothing else is
    checked."""
    anchor = tmp_path / "root.key"
    anchor.write_text(". IN DS 20326 8 2 "
                      "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n")
    rc, doc = probe_dns(env, "good.example", "--trust-anchor", str(anchor),
                        json_out=True)
    assert rc == 1
    assert [(c["check"], c["result"]) for c in doc["checks"]] == [("dnssec", "fail")]
    assert "bogus" in doc["checks"][0]["detail"]
    assert "--trust-anchor none" in doc["checks"][0]["fix"]
    p = subprocess.run([POSTEL_BIN, "probe", "--dns", "good.example", "--trust-anchor",
                        str(tmp_path / "missing.key")], capture_output=True, timeout=30)
    assert p.returncode == 2 and b"cannot be read" in p.stderr


def test_config_keys_dns_resolver_and_trust_anchor(env, tmp_path):
    """Without --resolver and --trust-anchor, probe takes the config keys
    dns_resolver (ADDR:PORT) and dns_trust_anchor."""
    port = env["dns"].port
    base = [POSTEL_BIN, "-d", str(tmp_path), "-o", f"dns_resolver=127.0.0.1:{port}"]
    p = subprocess.run([*base, "-o", "dns_trust_anchor=none", "probe", "--dns",
                        "good.example", "--json", "--timeout", "3"],
                       capture_output=True, timeout=scaled(60), stdin=subprocess.DEVNULL)
    doc = json.loads(p.stdout)
    v = verdicts(doc)
    assert doc["resolver"] == f"127.0.0.1:{port}"
    assert v[("mx", "good.example")]["detail"] == "10 mx.good.example, 20 mx2.good.example"
    assert v[("dnssec", f"127.0.0.1:{port}")]["result"] == "warning"
    missing = tmp_path / "nosuch.key"
    p = subprocess.run([*base, "-o", f"dns_trust_anchor={missing}", "probe", "--dns",
                        "good.example"], capture_output=True, timeout=scaled(60),
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and b"cannot be read" in p.stderr, p


SIGNED_ZONE = """$TTL 300
signed.example. IN SOA ns.signed.example. host.signed.example. 1 3600 600 86400 300
signed.example. IN NS ns.signed.example.
ns.signed.example. IN A 45.33.9.9
signed.example. IN MX 10 mx.signed.example.
mx.signed.example. IN A 45.33.9.10
_25._tcp.mx.signed.example. IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""


def run(*args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """signed.example signed with dnssec-signzone, its DS as the trust
    anchor; and the same zone with the TLSA data changed after signing."""
    if shutil.which("dnssec-signzone") is None:
        pytest.skip("needs bind9-utils (dnssec-keygen, dnssec-signzone)")
    d = tmp_path_factory.mktemp("signed")
    zone = SIGNED_ZONE
    for flags in (["-f", "KSK"], []):
        key = run("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *flags, "-K", ".",
                  "signed.example", cwd=d)
        zone += (d / f"{key}.key").read_text()
    (d / "db").write_text(zone)
    run("dnssec-signzone", "-q", "-O", "full", "-o", "signed.example", "-f",
        "db.signed", "db", cwd=d)
    text = (d / "db.signed").read_text()
    forged = re.sub(r"(TLSA\s+3 1 1 )0123", r"\1f123", text)
    assert forged != text
    good, bad = ZoneServer(text), ZoneServer(forged)
    try:
        yield good, bad, d / "dsset-signed.example."
    finally:
        good.close()
        bad.close()


def test_dnssec_secure_and_bogus_answers(signed):
    """Each answer's DNSSEC status reaches the verdict: TLSA records of a
    signed zone validate from its anchor (what DANE needs); changed after
    signing, they are bogus and withheld."""
    good, bad, anchor = signed
    args = ["--dns", "signed.example", "--trust-anchor", str(anchor), "--timeout", "3",
            "--json"]
    p = subprocess.run([POSTEL_BIN, "probe", "--resolver", good.address, *args],
                       capture_output=True, timeout=scaled(60), stdin=subprocess.DEVNULL)
    v = verdicts(json.loads(p.stdout))
    assert v[("mx", "signed.example")]["detail"] == "10 mx.signed.example"
    tlsa = v[("tlsa", "_25._tcp.mx.signed.example")]
    assert tlsa["result"] == "ok" and tlsa["detail"] == "1 TLSA record, DNSSEC-validated"
    p = subprocess.run([POSTEL_BIN, "probe", "--resolver", bad.address, *args],
                       capture_output=True, timeout=scaled(60), stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    v = verdicts(json.loads(p.stdout))
    assert v[("mx", "signed.example")]["result"] == "ok"
    tlsa = v[("tlsa", "_25._tcp.mx.signed.example")]
    assert tlsa["result"] == "fail"
    assert "DNSSEC validation failed (bogus)" in tlsa["detail"], tlsa


@pytest.mark.parametrize("args", [
    ["--dns", "good.example", "host"], ["--selector", "s", "host"],
    ["--resolver", "127.0.0.1", "host"], ["--trust-anchor", "none", "host"],
    ["--dns", "a..b"], ["--dns", "-x"], ["--dns", "good.example", "--resolver", "nohost"],
    ["--dns", "good.example", "--selector", "a b"],
    ["--dns", "good.example", "--user", "u"],
])
def test_dns_usage_errors(args):
    p = subprocess.run([POSTEL_BIN, "probe", *args], capture_output=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 2, p
    assert p.stdout == b""
