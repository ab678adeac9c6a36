#!/usr/bin/env python3
"""A real SMTP server for FlowForge's SMTP client tests (Tests/FlowForgeTests/SMTPClientTests.swift).

aiosmtpd on 127.0.0.1 with a free port, TLS with a self-signed certificate for 127.0.0.1 and
localhost that this script makes, AUTH PLAIN and LOGIN for one user:

    smtp_server.py --dir DIR --user USER --password PASSWORD [--security starttls|tls|none]
                   [--cert-dns-name NAME] [--login-only]

  starttls  (default) STARTTLS offered and required before AUTH and MAIL; AUTH required.
  tls       implicit TLS from the first byte (like port 465); AUTH required.
  none      no TLS at all and none offered; AUTH required, allowed without TLS.

--login-only offers AUTH LOGIN alone (no PLAIN), for clients' fallback.
--cert-dns-name NAME makes the certificate name NAME only (not localhost, no IP address), to
test that a client checks the name it connected to. (NIOSSL accepts a certificate whose IP
address is the one it connected to even when it asked for a host name, so no IP may be in it.)

When it is ready it prints one JSON line, {"port": N, "cert": "DIR/cert.pem"}. Each message it
accepts becomes DIR/message-N.json: the envelope, whether it came over TLS, who authenticated,
the raw content (base64) and its headers and body as Python's email package decodes them, so a
test checks both the bytes sent and what a mail reader makes of them. Any recipient whose local
part starts with "refused" is refused with 550. It exits when its standard input closes (the test
that started it ended) or on SIGTERM.
"""

import argparse
import asyncio
import base64
import datetime
import email
import email.policy
import ipaddress
import json
import logging
import os
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory, dns_name):
    """A self-signed certificate for localhost and 127.0.0.1, or for dns_name alone, and its
    key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "FlowForge test SMTP server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(dns_name)]
                if dns_name
                else [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


class Store:
    """The aiosmtpd handler: refuses "refused…" recipients, writes each message to a file."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("refused"):
            return "550 5.1.1 <%s>: Recipient address rejected: no such mailbox" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
            "login": session.auth_data.login.decode() if session.authenticated else None,
            "raw_base64": base64.b64encode(raw).decode(),
            "headers": [[name, str(value)] for name, value in parsed.items()],
            "body": body.get_content() if body is not None else None,
        }
        path = os.path.join(self.directory, "message-%d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)  # a reader never sees half a file
        return "250 2.0.0 OK: queued as test-%d" % self.count


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd then answers 535 itself (handled=True would mean "answered").
        return AuthResult(success=False, handled=False)

    return check


async def serve(arguments):
    cert_path, key_path = make_certificate(arguments.dir, arguments.cert_dns_name)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    handler = Store(arguments.dir)
    check = authenticator(arguments.user, arguments.password)

    def make_protocol():
        return SMTP(
            handler,
            hostname="flowforge-test-smtp",
            tls_context=tls if arguments.security == "starttls" else None,
            require_starttls=arguments.security == "starttls",
            auth_required=True,
            # Implicit TLS is encrypted too, but aiosmtpd only counts STARTTLS as TLS.
            auth_require_tls=arguments.security == "starttls",
            authenticator=check,
            auth_exclude_mechanism=["PLAIN"] if arguments.login_only else None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        make_protocol,
        host="127.0.0.1",
        port=0,
        ssl=tls if arguments.security == "tls" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "cert": cert_path}), flush=True)

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    # Standard input closing means the test process that started this one is gone.
    loop.add_reader(sys.stdin.fileno(), lambda: os.read(sys.stdin.fileno(), 4096) or stop.set())
    await stop.wait()
    server.close()


def main():
    # aiosmtpd warns that "none" allows AUTH without TLS, which is that variant's point.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description="FlowForge's test SMTP server")
    parser.add_argument("--dir", required=True, help="where the certificate and the messages go")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--security", choices=["starttls", "tls", "none"], default="starttls")
    parser.add_argument("--cert-dns-name")
    parser.add_argument("--login-only", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
