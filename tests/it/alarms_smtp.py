"""A real SMTP server on loopback for the alarm tests (aiosmtpd).

Usage: alarms_smtp.py PORT CERT KEY USER PASSWORD

STARTTLS is required (with the given certificate) and so is AUTH after it.
Each message received is printed as one JSON line: envelope, decoded
subject and text body, and whether the session was encrypted. "ready" is
printed once the server answers. Runs until its standard input closes.
"""

import email
import email.policy
import json
import ssl
import logging
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd logs a warning about its own use of a deprecated attribute.
logging.getLogger("mail.log").setLevel(logging.ERROR)

port, cert, key, user, password = sys.argv[1:6]
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert, key)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        print(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "body": body.get_content() if body is not None else "",
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }), flush=True)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == user.encode()
          and auth_data.password == password.encode())
    return AuthResult(success=ok)


controller = Controller(
    Handler(), hostname="127.0.0.1", port=int(port),
    tls_context=tls, require_starttls=True,
    authenticator=authenticate, auth_required=True,
    server_hostname="localhost",
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
