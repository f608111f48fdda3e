"""A throwaway PKI for one lab run, made with the openssl CLI (the venv has no `cryptography`).

Everything is created fresh in the run's own directory and deleted with it: a CA, the API
server's serving certificate (127.0.0.1, localhost and the in-cluster names, plus the first
address of the service range), an admin client certificate in ``system:masters`` (the lab's
operator: it applies the plan and impersonates the personas), and the service-account
signing key pair.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path
    client_ca: Path | None = None  # the CA client certificates are checked against (default: ca_cert)

    @property
    def client_ca_cert(self) -> Path:
        return self.client_ca or self.ca_cert


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.strip()[:500]}")


def _key(name: str, d: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name, cwd=d)


def _signed(d: Path, name: str, subject: str, ext: str, ca: str = "ca") -> None:
    _key(f"{name}.key", d)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)


def _serving_ext(sans: list[str]) -> str:
    return ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(sans)}\n")


_CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"


def _self_signed_ca(d: Path, name: str, cn: str) -> None:
    _key(f"{name}.key", d)
    _openssl("req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN={cn}", "-days", "2",
             "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{name}.crt", cwd=d)


def ensure_k3s_cas(tls_dir: Path) -> bool:
    """What k3s does at its first start when no CAs were placed: make its own server CA,
    client CA and service-account key in `tls_dir`. True if it made them."""
    if (tls_dir / "server-ca.crt").is_file():
        return False
    tls_dir.mkdir(parents=True, exist_ok=True)
    _self_signed_ca(tls_dir, "server-ca", "k3s-server-ca@lab")
    _self_signed_ca(tls_dir, "client-ca", "k3s-client-ca@lab")
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "service.key", cwd=tls_dir)
    return True


def from_cluster_cas(d: Path, tls_dir: Path, sans: list[str]) -> Pki:
    """The API server's PKI from a k3s server's CA files (`server-ca`, `client-ca`,
    `service.key` under /var/lib/rancher/k3s/server/tls): a serving certificate for `sans`
    signed by the server CA and an admin client certificate (system:masters) signed by the
    client CA, as k3s makes them at its start."""
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    for name in ("server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key", "service.key"):
        source = tls_dir / name
        if not source.is_file():
            raise RuntimeError(f"{source} is missing: k3s needs it at its start")
        (d / name).write_bytes(source.read_bytes())
    _signed(d, "apiserver", "/CN=kube-apiserver", _serving_ext(sans), ca="server-ca")
    _signed(d, "admin", "/O=system:masters/CN=system:admin", _CLIENT_EXT, ca="client-ca")
    _openssl("pkey", "-in", "service.key", "-pubout", "-out", "sa.pub", cwd=d)
    return Pki(d / "server-ca.crt", d / "apiserver.crt", d / "apiserver.key", d / "admin.crt", d / "admin.key",
               d / "service.key", d / "sa.pub", client_ca=d / "client-ca.crt")


def make_pki(d: Path, service_cidr: str) -> Pki:
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    _key("ca.key", d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=k3s-platform-lab-ca", "-days", "2",
             "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.crt", cwd=d)
    first_service_ip = next(ipaddress.ip_network(service_cidr).hosts())
    sans = ",".join(["IP:127.0.0.1", f"IP:{first_service_ip}", "DNS:localhost", "DNS:kubernetes",
                     "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                     "DNS:kubernetes.default.svc.cluster.local"])
    _signed(d, "apiserver", "/CN=kube-apiserver", _serving_ext(sans.split(",")))
    _signed(d, "admin", "/O=system:masters/CN=lab-admin", _CLIENT_EXT)
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=d)
    _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)
    return pki_files(d)


def pki_files(d: Path) -> Pki:
    return Pki(d / "ca.crt", d / "apiserver.crt", d / "apiserver.key", d / "admin.crt", d / "admin.key",
               d / "sa.key", d / "sa.pub")
