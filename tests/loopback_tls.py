"""TLS on 127.0.0.1 for tests: a certificate made for the test, an https origin, and an
https:// CONNECT proxy that can drip what the origin sends."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading
import time


class LoopbackCertificate:
    """A self-signed certificate for 127.0.0.1 (its own trust anchor: point SSL_CERT_FILE at `.cert`)."""

    def __init__(self, folder):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
        self.cert, self.key = folder / "loopback-cert.pem", folder / "loopback-key.pem"
        self.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def https_origin(certificate: LoopbackCertificate, drip: float | None = None):
    """An https server answering every GET with 200 `{}` (its header lines one byte every `drip`
    seconds when set); returns (server, paths served)."""
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.append(self.path)
            if drip is not None:
                for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Pad: x\r\n" * 20:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(drip)
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = certificate.server_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, served


class TlsConnectProxy:
    """An https:// proxy (TLS to the proxy, then CONNECT), or with `tls=False` the usual http://
    one: it notes each CONNECT target and relays the tunnel, the origin's bytes one every
    `drip` seconds when `drip` is set."""

    def __init__(self, certificate: LoopbackCertificate, drip: float | None = None, *, tls: bool = True):
        self.drip, self.targets, self._stop = drip, [], threading.Event()
        self._context = certificate.server_context() if tls else None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._tunnel, args=(connection,), daemon=True).start()

    def _tunnel(self, connection) -> None:
        try:
            connection.settimeout(5)
            client = self._context.wrap_socket(connection, server_side=True) if self._context else connection
            request = b""
            while b"\r\n\r\n" not in request:
                request += client.recv(4096)
            target = request.split()[1].decode()
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            self._pump(upstream, client, self.drip)
        except OSError:
            pass

    def _pump(self, source, sink, drip) -> None:
        try:
            while not self._stop.is_set() and (data := source.recv(4096)):
                if drip is None:
                    sink.sendall(data)
                    continue
                for index in range(len(data)):
                    if self._stop.is_set():
                        return
                    sink.sendall(data[index:index + 1])
                    time.sleep(drip)
        except OSError:
            pass

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
