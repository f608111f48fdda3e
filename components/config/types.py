"""Shared field types of the stack config: each input grammar written once.

Every `Annotated` type here rejects bad input with "what is wrong — how to fix it"; the
section modules (network, cluster, system, platform, router) build their models from them,
and builders downstream take the validated values without checking them again.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

from components.grammar import DIGITS, Grammar
from components.quantity import parse_quantity


class ConfigError(Exception):
    """Every problem found in the stack config, one `dotted.key: message` line each."""

    def __init__(self, problems: list[str]):
        self.problems = [_shortened(p) for p in problems]
        super().__init__("\n".join(self.problems))

    def report(self, stack: str | None = None, source: str | None = None) -> str:
        """The problems under one heading naming the file: `source` when the config came
        from another file (e.g. the plan's --config-file), else Pulumi.<stack>.yaml."""
        where = source or (f"Pulumi.{stack}.yaml" if stack else "the stack config")
        lines = [f"invalid configuration in {where} ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


# A value quoted in a message is shown up to this many characters: a megabyte-long value
# would otherwise be echoed whole, once per problem.
_SHOWN = 80
_LONG = "{" + str(_SHOWN + 1) + ",}"
# A quote that opens a value follows no letter or digit and the one that closes it is followed
# by none: the text between two quoted values (`'a' is ... e.g. 'b'`) is not itself one.
_QUOTED = re.compile(r"(?<!\w)(?:'(?:[^'\\]|\\.)" + _LONG + r"'|\"(?:[^\"\\]|\\.)" + _LONG + r'")(?!\w)')


# Any other run of text without a blank this long is a value too (a key name of a map, an
# unquoted host): shown cut the same way.
_RUN = re.compile(r"\S{" + str(_SHOWN + 41) + r",}")


def _shortened(problem: str) -> str:
    # Control characters (a line break in a key name) would forge lines of the report.
    problem = "".join(c if c.isprintable() else repr(c)[1:-1] for c in problem)
    problem = _QUOTED.sub(lambda m: f"{m.group(0)[:_SHOWN]}{m.group(0)[0]}... ({len(m.group(0)) - 2} characters)",
                          problem)
    return _RUN.sub(lambda m: f"{m.group(0)[:_SHOWN]}... ({len(m.group(0))} characters)", problem)


_DNS_LABEL = Grammar(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_HOSTNAME = Grammar(r"(?=.{1,253}\Z)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_MAC = Grammar(r"([0-9a-f]{2}:){5}[0-9a-f]{2}")
K3S_VERSION = Grammar(r"v1\.(\d+)\.(\d+)\+k3s(\d+)")
# The Kubernetes minors this platform supports, from one table: the minor of the k3s release
# the stacks pin and the program's k3s flag table is read from (k3s_flags.json), how many
# older minors stay accepted (a stack is upgraded one minor at a time, as Kubernetes' skew
# policy asks: the three newest minors are the ones upstream maintains), and how many newer
# ones are accepted ahead of the pin. Each minor of the window needs a k3s release line, a
# bundled OpenAPI schema in the pinned kubernetes-validate (1.37.0 ships 1.24-1.37; the plan
# validates against it) and Pod Security rules the policy pack knows
# (tests/plan/test_pack_settings.py checks the last two).
PINNED_KUBERNETES_MINOR = 34
MINORS_BEHIND_PIN = 2
MINORS_AHEAD_OF_PIN = 2
SUPPORTED_KUBERNETES_MINORS = tuple(range(PINNED_KUBERNETES_MINOR - MINORS_BEHIND_PIN,
                                          PINNED_KUBERNETES_MINOR + MINORS_AHEAD_OF_PIN + 1))
# POSIX portable user name (useradd's default rule): it reaches the node scripts.
_POSIX_USER = Grammar(r"[a-z_][a-z0-9_-]{0,31}")
_EMAIL = Grammar(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]+")
# A person's user name (the CN of their client certificate, the RBAC User subject, part of
# resource, object and file names): lowercase letters, digits, '.' and '-'.
_PERSON = Grammar(r"[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?")
# Groups as an authenticator reports them (OIDC prefixes like `oidc:` allowed).
_GROUP = Grammar(r"[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}")
# Kubernetes label keys/values (also taint keys/values).
_LABEL_NAME = Grammar(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_LABEL_PREFIX = Grammar(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# Label namespaces the kubelet refuses in --node-labels unless listed here.
# Ref: https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#noderestriction
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
_KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
})


def _person(value: str) -> str:
    if not _PERSON.match(value):
        raise ValueError(
            f"{value!r} is not a person's user name — use lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit, at most 63 characters (e.g. alice or alice.m)"
        )
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS label — use lowercase letters, digits and '-', at most 63 characters"
        )
    return value


def _hostname(value: str) -> str:
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a fully qualified hostname — write it like app.home.example.org")
    return value


def _mac(value: str) -> str:
    normalized = value.lower().replace("-", ":")
    if not _MAC.match(normalized):
        raise ValueError(f"{value!r} is not a MAC address — write six hex pairs, e.g. aa:bb:cc:00:11:22")
    if normalized in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff") or int(normalized[:2], 16) & 1:
        # No NIC has these: all zeros, broadcast, or a group (multicast) address (low bit of the
        # first octet). A static lease for one never matches the node.
        raise ValueError(f"{value!r} is a zero, broadcast or multicast address — give the node NIC's own "
                         "MAC (ip link show on the host)")
    return normalized


def _quantity(value: str | int) -> str:
    text = str(value)
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity — write e.g. 500m, 2, 512Mi or 4Gi"
        ) from None
    if amount <= 0:
        raise ValueError(f"{text!r} must be positive — give a quantity above zero")
    return text


def _posix_user(value: str) -> str:
    if not _POSIX_USER.match(value):
        raise ValueError(
            f"{value!r} is not a POSIX user name — use lowercase letters, digits, '_' and '-', "
            "starting with a letter or '_', at most 32 characters"
        )
    return value


_WEB_USER = Grammar(r"[A-Za-z0-9._@-]{1,64}")


def _web_user(value: str) -> str:
    if not _WEB_USER.match(value):
        raise ValueError(f"{value!r} is not a user name — use letters, digits, '.', '_', '@' or '-'")
    return value


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and _EMAIL.match(value) and _HOSTNAME.match(domain.lower())):
        raise ValueError(f"{value!r} is not an e-mail address — write it like ops@example.org")
    return value


def _group(value: str) -> str:
    if value.startswith("system:"):
        raise ValueError(
            f"{value!r} is a Kubernetes system group (every authenticated user, every service "
            "account, the nodes...) — name a group your identity provider gives only to the team"
        )
    if not _GROUP.match(value):
        raise ValueError(
            f"{value!r} is not a group name — use letters, digits and '.', '_', '@', ':', '/', '-'"
        )
    return value


def label_key_problem(key: str) -> str | None:
    """Why Kubernetes (or the kubelet, for node labels) refuses `key`, or None."""
    prefix, slash, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (slash and not _LABEL_PREFIX.match(prefix)):
        return (f"{key!r} is not a label key — write [prefix/]name: name up to 63 letters, digits, "
                "'-', '_' or '.', prefix a DNS subdomain")
    return None


def label_value_problem(value: str) -> str | None:
    if value and not _LABEL_NAME.match(value):
        return (f"{value!r} is not a label value — up to 63 letters, digits, '-', '_' or '.', "
                "starting and ending with a letter or digit")
    return None


def _node_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            raise ValueError(problem)
        namespace = key.rpartition("/")[0]
        if (namespace.endswith(("kubernetes.io", "k8s.io")) and key not in _KUBELET_LABELS
                and namespace not in _KUBELET_LABEL_NAMESPACES
                and not namespace.endswith("node-restriction.kubernetes.io")):
            raise ValueError(
                f"{key!r} is in a Kubernetes label namespace the kubelet refuses to set on its "
                "own node — use your own prefix, or node-restriction.kubernetes.io/"
            )
    return labels


def _taint(value: str) -> str:
    rest, colon, effect = value.rpartition(":")
    key, eq, taint_value = rest.partition("=")
    if not colon or effect not in TAINT_EFFECTS:
        raise ValueError(
            f"taint {value!r} has no valid effect — write key=value:Effect with Effect one of "
            f"{', '.join(TAINT_EFFECTS)}"
        )
    problem = label_key_problem(key) or (label_value_problem(taint_value) if eq else None)
    if problem:
        raise ValueError(f"taint {value!r}: {problem}")
    return value


# Cron as k3s reads etcd-snapshot-schedule-cron (five fields, or a @descriptor).
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
                ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {
    3: {m: i + 1 for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))},
    4: {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
}
# Printable ASCII words separated by single spaces: no tab, line break or other blank.
_CRON_TEXT = Grammar(r"[!-~]+( [!-~]+)*")
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def cron_problem(text: str) -> str | None:
    """Why `text` is not a five-field cron schedule, or None."""
    if not _CRON_TEXT.match(text):
        return (f"{text!r} is not a cron schedule — write five fields separated by spaces, on one "
                "line, without leading or trailing spaces (e.g. '0 */6 * * *'), or a @descriptor")
    if text in _CRON_DESCRIPTORS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"{text!r} has {len(fields)} fields — a cron schedule has five (minute hour day month weekday)"
    for index, (field, (what, low, high)) in enumerate(zip(fields, _CRON_FIELDS)):
        names = _CRON_NAMES.get(index, {})

        def number(part: str) -> int:
            value = names.get(part.lower())
            if value is None:
                if not DIGITS.match(part):
                    raise ValueError
                value = int(part)
            if not low <= value <= high:
                raise ValueError
            return value

        for item in field.split(","):
            base, slash, step = item.partition("/")
            try:
                if slash and not (DIGITS.match(step) and int(step) > 0):
                    raise ValueError
                if base != "*":
                    first, dash, last = base.partition("-")
                    if number(first) > (number(last) if dash else high):
                        raise ValueError
            except ValueError:
                return f"{what} field {field!r} of {text!r} is not valid — use *, numbers {low}-{high}, ranges a-b, lists a,b and steps */n"
    return _never_fires(text, fields)


# The most days each month has (February: 29, in leap years).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _values(field: str, index: int) -> set[int]:
    """The numbers a (valid) cron field selects."""
    _, low, high = _CRON_FIELDS[index]
    names = _CRON_NAMES.get(index, {})
    out: set[int] = set()
    for item in field.split(","):
        base, _, step = item.partition("/")
        first, dash, last = base.partition("-")
        start = low if base == "*" else names.get(first.lower(), int(first) if DIGITS.match(first) else low)
        if base == "*" or (step and not dash):
            end = high
        else:
            end = names.get(last.lower(), int(last) if DIGITS.match(last) else high) if dash else start
        out.update(range(start, end + 1, int(step) if step else 1))
    return out


def _never_fires(text: str, fields: list[str]) -> str | None:
    """A schedule whose days exist in none of its months (`0 0 31 2 *`). With the weekday
    field `*`, k3s's cron (robfig/cron) fires on the day-of-month alone; otherwise on either."""
    if fields[4] not in ("*", "?") or fields[2] in ("*", "?"):
        return None
    days, months = _values(fields[2], 2), _values(fields[3], 3)
    if any(day <= _MONTH_DAYS[month - 1] for day in days for month in months):
        return None
    return (f"{text!r} never fires: day {', '.join(map(str, sorted(days)))} does not exist in month "
            f"{', '.join(map(str, sorted(months)))} — pick a day that one of those months has")


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# Image references: [registry[:port]/]path[:tag][@algorithm:digest].
# Ref: https://github.com/distribution/reference (grammar in reference.go)
_IMAGE = Grammar(
    r"(?:(?P<registry>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}))?"
)


def image_problem(image: str) -> str | None:
    """Why `image` is not a pinned image reference, or None."""
    match = _IMAGE.match(image)
    if not match:
        return (f"{image!r} is not an image reference — write [registry/]name:tag or "
                "name@sha256:<64 hex digits>, e.g. traefik/whoami:v1.11.0")
    digest = match.group("digest")
    if digest and digest.startswith("sha256:") and len(digest) != len("sha256:") + 64:
        return f"{image!r} has a malformed sha256 digest — it needs exactly 64 hex digits"
    if not digest and match.group("tag") in (None, "latest"):
        return f"{image!r} does not pin a version — add a tag other than latest, or a digest"
    return None


def _image(value: str) -> str:
    problem = image_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# `ssh-ed25519 AAAA... [comment]`, as in known_hosts; the blob is the key in SSH wire form,
# which starts with its own type name (RFC 4253 section 6.6).
_HOST_KEY = Grammar(r"(?P<type>ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) "
                    r"(?P<blob>[A-Za-z0-9+/]+={0,2})(?: [\x20-\x7e]*)?")


def _ssh_host_key(value: str) -> str:
    match = _HOST_KEY.match(value)
    blob = b""
    if match:
        try:
            blob = base64.b64decode(match["blob"], validate=True)
        except (binascii.Error, ValueError):
            blob = b""
    name = match["type"].encode() if match else b""
    if not (match and blob[:4] == len(name).to_bytes(4, "big") and blob[4:4 + len(name)] == name):
        raise ValueError(
            f"{value!r} is not an SSH host public key — paste one line of `ssh-keyscan <host>` "
            "(or the host's /etc/ssh/ssh_host_ed25519_key.pub): type, base64 key, optional comment"
        )
    return value


_SHA256 = Grammar(r"[0-9a-f]{64}")


def _sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError(f"{value!r} is not a sha256 digest — write 64 lowercase hex digits (sha256sum prints them)")
    return value


_ABSOLUTE_PATH = Grammar(r"/[A-Za-z0-9._/+-]+")


def _absolute_path(value: str) -> str:
    if not _ABSOLUTE_PATH.match(value):
        raise ValueError(f"{value!r} is not an absolute path — start with / and use letters, digits, "
                         "'.', '_', '/', '+' and '-' only")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Hostname = Annotated[str, AfterValidator(_hostname)]
MacAddress = Annotated[str, AfterValidator(_mac)]
Quantity = Annotated[str, AfterValidator(_quantity)]
# Numbers as numbers: pydantic's lax mode reads `true` as 1 (a port, a replica count) and "80"
# as 80; Strict refuses both. Every int and float of the config is one of these.
Int = Annotated[int, Strict()]
Seconds = Annotated[float, Strict(), Field(ge=1)]  # an int is accepted; below a second times out at once
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
SshHostKey = Annotated[str, AfterValidator(_ssh_host_key)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
PosixUser = Annotated[str, AfterValidator(_posix_user)]
Email = Annotated[str, AfterValidator(_email)]
WebUser = Annotated[str, AfterValidator(_web_user)]
GroupName = Annotated[str, AfterValidator(_group)]
PersonName = Annotated[str, AfterValidator(_person)]
Taint = Annotated[str, AfterValidator(_taint)]
NodeLabels = Annotated[dict[str, str], AfterValidator(_node_labels)]
CronSchedule = Annotated[str, AfterValidator(_cron)]
ImageRef = Annotated[str, AfterValidator(_image)]


class Model(BaseModel):
    """Frozen, strict about unknown keys, camelCase in YAML, snake_case in Python."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )



