"""A small in-memory stand-in for pfSense + pfrest v2, served on 127.0.0.1 only.

Behaves like the real API where the driver depends on it:
- `X-API-Key` checked: a wrong key gets 401;
- plural GET lists objects with their array `id`; ids are renumbered after a delete;
- singular POST/PATCH/DELETE; an unknown id gets 404; a duplicate natural key gets 409;
- writes mark their subsystem dirty; `GET .../apply` reports `applied: false` until a
  `POST .../apply`, which completes only after `apply_polls` further GETs (asynchronous);
- `faults[(method, path)]` is a list of faults, one used per matching request, then normal
  answers. A fault is:
    503                      answer 503 without doing anything;
    ("commit", 503)          do the request (commit it), then answer 503 instead;
    ("commit", "timeout")    do the request, then send nothing until the client gave up;
    ("renumber", kind, i)    another admin deletes row i of `kind` just before the request
                             is handled (ids after it shift down), then handle it normally.
- `raw[(method, path)]` is a list of responses written to the socket as they are (bytes,
  or a callable given the socket file: slow or endless bodies), for transport faults.
- `headers_seen` records the headers of every request (to prove where the key went);
- `denied` holds pfrest privileges the key lacks (`api-v2-services-haproxy-backend-get`): 403.

Interfaces, DHCP servers and the objects on them, with pfrest's constraints
(Models/NetworkInterface.inc, DHCPServer.inc, FilterNameValidator.inc at 805c7f0c):
- an interface's id is a string pfSense picks on POST (the first free `optN`), kept with the
  row; its `if` must be a port (`ports`) or an existing VLAN device `<if>.<tag>`, unique; its
  `descr` unique, a filter name (A-Z a-z 0-9 _, not all digits, no `pkg_`, not reserved, not
  an interface id or alias name);
- a DHCP server's id is its interface's, which must exist with a static IPv4 (assignment
  before DHCP); a static mapping's `parent_id` must be a DHCP server, or `lan`;
- a rule's interfaces must exist (`wan`, `lan`, `openvpn` or an assigned id);
- deletes in use are refused (409): a VLAN device an interface assigns, an interface a DHCP
  server, static mapping or rule is on. (pfrest itself removes an interface's DHCP config and
  rules with it; the fake is stricter so that a wrong delete order shows.)
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from components.network.kinds import APPLY_PATHS, KINDS, SERVICE_SETTINGS, natural_key, privilege_name

API_KEY = "test-key-0123456789"
_BY_SINGULAR = {k.path: k for k in KINDS.values()}
_SETTINGS = {path: subsystem for subsystem, (path, _) in SERVICE_SETTINGS.items()}
_BY_PLURAL = {k.plural: k for k in KINDS.values()}
# Firewall apply covers the NAT subsystem too (pfrest FirewallApply).
_APPLY_SUBSYSTEMS = {
    "/api/v2/interface/apply": {"interfaces"},
    "/api/v2/firewall/apply": {"firewall", "nat"},
    "/api/v2/services/dhcp_server/apply": {"dhcp"},
    "/api/v2/services/dns_resolver/apply": {"dns"},
    "/api/v2/services/haproxy/apply": {"haproxy"},
}


# pfSense's own interfaces (always there) and its reserved filter words (a few of them).
BUILTIN_INTERFACES = ("wan", "lan", "openvpn")
RESERVED_FILTER_NAMES = {"all", "pass", "block", "out", "queue", "max", "min", "pptp", "pppoe", "L2TP", "OpenVPN",
                         "IPsec"}
_FILTER_NAME = re.compile(r"[A-Za-z0-9_]+")


class FakePfRest:
    def __init__(self, apply_polls: int = 2) -> None:
        self.api_key = API_KEY  # the key the router accepts (a test may rotate it)
        self.objects: dict[str, list[dict]] = {k: [] for k in KINDS}
        self.dirty: set[str] = set()
        self.settings: dict[str, dict] = {}  # singleton settings by path, as PATCHed
        self.applying: dict[str, int] = {}
        self.apply_polls = apply_polls
        self.faults: dict[tuple[str, str], list] = {}
        self.raw: dict[tuple[str, str], list] = {}
        self.headers_seen: list[dict[str, str]] = []
        self.denied: set[str] = set()  # pfrest privileges the key lacks: 403 on those calls
        self.released = threading.Event()  # set on stop: ends stalled answers
        self.log: list[tuple[str, str, dict, object]] = []
        self.lock = threading.Lock()
        self.ports = {"igc0", "igc1", "igc2", "igc3"}  # the router's NICs
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self, tls: tuple[str, str] | None = None) -> FakePfRest:
        """Serve; with `tls` (cert file, key file) over HTTPS, as the pfSense GUI does."""
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread.start()
        return self

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- helpers for tests ------------------------------------------------------------
    def listing(self, kind: str) -> list[dict]:
        # Interfaces and DHCP servers keep the id pfSense gave them; the rest are positions.
        return [dict(o) if "id" in o else dict(o, id=i) for i, o in enumerate(self.objects[kind])]

    def interface_ids(self) -> set[str]:
        return set(BUILTIN_INTERFACES) | {str(o["id"]) for o in self.objects["interface"]}

    def _refuse(self, kind, body: dict) -> str | None:
        """Why pfrest would refuse creating (or updating to) `body`, or None."""
        if kind.name == "interface":
            device, descr = str(body.get("if", "")), str(body.get("descr", ""))
            vlans = {f"{v['if']}.{v['tag']}" for v in self.objects["vlan"]}
            if device not in self.ports and device not in vlans:
                return f"Field `if` has no such port: {device!r}"
            if not _FILTER_NAME.fullmatch(descr) or descr.isdigit() or descr.startswith("pkg_") \
                    or descr in RESERVED_FILTER_NAMES or descr.lower() in self.interface_ids():
                return f"Field 'descr' cannot be '{descr}': not a usable filter name"
            others = [o for o in self.objects["interface"] if o.get("id") != body.get("id")]
            if any(o.get("descr") == descr for o in others):
                return f"Field `descr` must be unique: {descr!r}"
            if body.get("typev4") == "static" and not (body.get("ipaddr") and body.get("subnet")):
                return "Field `ipaddr` and `subnet` are required for a static interface"
        if kind.name == "dhcp_server":
            iface = next((o for o in self.objects["interface"] if o.get("id") == body.get("interface")), None)
            if iface is None:
                return f"Field `interface` names no assigned interface: {body.get('interface')!r}"
            if body.get("enable") and iface.get("typev4") != "static":
                return "DHCP server cannot be enabled because its interface has no static IPv4"
        if kind.name == "static_mapping":
            servers = {o.get("id") for o in self.objects["dhcp_server"]} | {"lan"}
            if body.get("parent_id") not in servers:
                return f"Parent DHCP server `{body.get('parent_id')}` does not exist"
        if kind.name == "firewall_rule":
            unknown = [i for i in body.get("interface") or [] if i not in self.interface_ids()]
            if unknown:
                return f"Field `interface` names unknown interfaces: {unknown}"
        if kind.name == "firewall_alias" and not _FILTER_NAME.fullmatch(str(body.get("name", ""))):
            return "Field `name` is not a filter name"
        return None

    def _in_use(self, kind, row: dict) -> str | None:
        """Why deleting `row` is refused while other objects still use it, or None."""
        if kind.name == "vlan":
            device = f"{row['if']}.{row['tag']}"
            if any(o.get("if") == device for o in self.objects["interface"]):
                return f"VLAN {device} is in use by an interface assignment"
        if kind.name == "interface":
            ident = row.get("id")
            if any(o.get("id") == ident for o in self.objects["dhcp_server"]) \
                    or any(o.get("parent_id") == ident for o in self.objects["static_mapping"]) \
                    or any(ident in (o.get("interface") or []) for o in self.objects["firewall_rule"]):
                return f"Interface `{ident}` is in use by a DHCP server, static mapping or rule"
        return None

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self.log if m in ("POST", "PATCH", "DELETE")]

    # -- request handling -------------------------------------------------------------
    def _handle(self, method: str, raw_path: str, headers, body_bytes: bytes) -> tuple[int, dict, str | None]:
        parts = urllib.parse.urlsplit(raw_path)
        path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
        body = json.loads(body_bytes) if body_bytes else None
        with self.lock:
            self.log.append((method, path, query, body))
            queued = self.faults.get((method, path))
            fault = queued.pop(0) if queued else None
            if isinstance(fault, int):
                return fault, {"code": fault, "message": "Service temporarily unavailable"}, None
            if isinstance(fault, tuple) and fault[0] == "renumber":
                del self.objects[fault[1]][fault[2]]
            status, payload = self._answer(method, path, query, headers, body)
            if isinstance(fault, tuple) and fault[0] == "commit":
                if fault[1] == "timeout":
                    return status, payload, "stall"
                return fault[1], {"code": fault[1], "message": "Internal Server Error"}, None
            return status, payload, None

    def _answer(self, method: str, path: str, query: dict, headers, body) -> tuple[int, dict]:
        if headers.get("X-API-Key") != self.api_key:
            return 401, {"code": 401, "status": "unauthorized", "message": "Authentication failed"}
        if privilege_name(path, method) in self.denied:
            return 403, {"code": 403, "status": "forbidden", "message": "You do not have permission"}
        if path in _APPLY_SUBSYSTEMS:
            return self._apply(method, path)
        if path in _SETTINGS:
            return self._settings(method, path, body or {})
        if path in _BY_PLURAL and method == "GET":
            kind = _BY_PLURAL[path]
            rows = self.listing(kind.name)
            if kind.parent_id and "parent_id" in query:
                rows = [r for r in rows if r.get("parent_id") == query["parent_id"]]
            return 200, {"code": 200, "data": rows}
        if path in _BY_SINGULAR:
            return self._singular(method, _BY_SINGULAR[path], query, body or {})
        return 404, {"code": 404, "message": "Endpoint not found"}

    def _settings(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        # Singleton service settings, pfSense's defaults until PATCHed (HAProxy: off).
        current = self.settings.setdefault(path, {"enable": False})
        if method == "PATCH":
            current.update(body)
            self.dirty.add(_SETTINGS[path])
        elif method != "GET":
            return 405, {"message": f"{method} not allowed on {path}"}
        return 200, {"data": dict(current)}

    def _apply(self, method: str, path: str) -> tuple[int, dict]:
        subs = _APPLY_SUBSYSTEMS[path]
        if method == "POST":
            for s in subs:
                if s in self.dirty:
                    self.applying[s] = self.apply_polls
            return 200, {"code": 200, "data": {"applied": False}}
        for s in subs:
            if s in self.applying:
                self.applying[s] -= 1
                if self.applying[s] <= 0:
                    del self.applying[s]
                    self.dirty.discard(s)
        return 200, {"code": 200, "data": {"applied": not (subs & self.dirty)}}

    def _singular(self, method: str, kind, query: dict, body: dict) -> tuple[int, dict]:
        rows = self.objects[kind.name]
        if method == "POST":
            key = natural_key(kind, body)
            if any(natural_key(kind, r) == key for r in rows):
                return 409, {"code": 409, "message": f"Field `{kind.key_fields[0]}` must be unique"}
            problem = self._refuse(kind, body)
            if problem:
                return 400, {"code": 400, "message": problem}
            obj = dict(body)
            if kind.name in ("certificate", "certificate_authority"):
                obj["refid"] = secrets.token_hex(6)
            if kind.name == "interface":  # pfSense's get_next_id(): the first free optN
                taken = self.interface_ids()
                obj["id"] = next(f"opt{n}" for n in range(1, 4096) if f"opt{n}" not in taken)
            if kind.name == "dhcp_server":
                obj["id"] = body["interface"]
            rows.append(obj)
            self._touch(kind)
            return 200, {"code": 200, "data": dict(obj) if "id" in obj else dict(obj, id=len(rows) - 1)}
        ident = body.get("id", query.get("id"))
        index = next((i for i, r in enumerate(rows) if "id" in r and r["id"] == ident), None)
        if index is None:
            try:
                index = int(str(ident))
                if "id" in rows[index]:
                    raise IndexError  # these are found by their own id only
            except (TypeError, ValueError, IndexError):
                return 404, {"code": 404, "message": f"Object with ID `{ident}` does not exist"}
        shown = rows[index] if "id" in rows[index] else dict(rows[index], id=index)
        if method == "PATCH":
            update = {k: v for k, v in body.items() if k != "id"}
            problem = self._refuse(kind, {**rows[index], **update})
            if problem:
                return 400, {"code": 400, "message": problem}
            rows[index].update(update)
            self._touch(kind)
            return 200, {"code": 200, "data": dict(rows[index]) if "id" in rows[index] else dict(rows[index], id=index)}
        if method == "DELETE":
            problem = self._in_use(kind, rows[index])
            if problem:
                return 409, {"code": 409, "message": problem}
            gone = rows.pop(index)  # later ids shift down, like pfSense's config arrays
            self._touch(kind)
            return 200, {"code": 200, "data": gone}
        if method == "GET":
            return 200, {"code": 200, "data": dict(shown)}
        return 405, {"code": 405, "message": "Method not allowed"}

    def _touch(self, kind) -> None:
        if kind.subsystem and APPLY_PATHS.get(kind.subsystem):
            self.dirty.add(kind.subsystem)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.headers_seen.append(dict(self.headers))
                raw = fake.raw.get((self.command, urllib.parse.urlsplit(self.path).path))
                if raw:
                    fake.log.append((self.command, self.path, {}, None))
                    answer = raw.pop(0)
                    self.close_connection = True
                    try:
                        answer(self.wfile) if callable(answer) else self.wfile.write(answer)
                    except OSError:
                        pass  # the client gave up: that is the point of these faults
                    return
                status, payload, after = fake._handle(self.command, self.path, self.headers, self.rfile.read(length))
                if after == "stall":
                    fake.released.wait(30)  # committed; the client's deadline passes first
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        return Handler
