"""Scenario 5: the real RBAC authorizer agrees with the plan's who-can matrix (rbac.md).

Every cell of every row of ``rbac.md`` (PlatOps, each tenant's AppOps group, in every tenant
namespace) is asked of the lab's API server as a SubjectAccessReview — what ``kubectl auth
can-i VERB RESOURCE -n NS --as someone --as-group GROUP`` sends — and must read the same. A
stranger (an authenticated user in no group of ours) is added, with the answers the offline
authorizer (tools/imitations/whocan.py) gives for them. Any disagreement fails the test.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tools.imitations.whocan import AUTHENTICATED, DEFAULT_CHECKS, Authorizer, Subject

STRANGER = "lab-stranger"
CHECKS = {c.label: c for c in DEFAULT_CHECKS}


def parse_matrix(text: str) -> tuple[dict[str, Subject], list[tuple[str, str, dict[str, bool]]]]:
    """(personas, rows) of rbac.md: rows are (persona, namespace, {check label: allowed})."""
    personas = {m[1]: Subject(m[2], m[3]) for m in
                re.finditer(r"^- \*\*(.+?)\*\* \((Group|User|ServiceAccount) ([^)]+)\):", text, re.M)}
    table = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    labels = [h.removesuffix(" *") for h in header[2:]]
    unknown = [label for label in labels if label not in CHECKS]
    assert not unknown, f"rbac.md has columns the lab does not know: {unknown}"
    rows = []
    for line in table[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert set(cells[2:]) <= {"yes", "no"}, line
        rows.append((cells[0], cells[1], {lab: cell == "yes" for lab, cell in zip(labels, cells[2:])}))
    return personas, rows


def user_info(subject: Subject) -> tuple[str, list[str]]:
    """Who the lab asks as: a made-up member for a Group subject (as `--as x --as-group G`)."""
    user, groups = subject.user_info()
    return (user or f"lab-member-of-{subject.name}"), sorted(groups)


def access_review(user: str, groups: list[str], check, namespace: str | None) -> dict:
    attrs = {"verb": check.verb, "group": check.api_group, "resource": check.resource}
    if check.subresource:
        attrs["subresource"] = check.subresource
    if namespace and not check.cluster_scoped:
        attrs["namespace"] = namespace
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": attrs}}


def ask(lab, reviews: list[dict]) -> list[bool]:
    proc = lab.kubectl("create", "-o", "json", "-f", "-",
                       input=yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": reviews}), check=True)
    # kubectl prints each created object of a List as its own JSON document.
    decoder, text, pos, items = json.JSONDecoder(), proc.stdout, 0, []
    while text[pos:].strip():
        obj, end = decoder.raw_decode(text, pos)
        items.append(obj)
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    assert len(items) == len(reviews)
    return [bool(i["status"].get("allowed")) for i in items]


def plan_objects(plan_dir) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((plan_dir / "manifests").rglob("*.yaml"))]


@pytest.fixture(scope="session")
def matrix_cases(stack_lab):
    _lab, result = stack_lab
    personas, rows = parse_matrix((result.plan_dir / "rbac.md").read_text())
    assert rows and personas, "rbac.md has no rows"
    offline = Authorizer(plan_objects(result.plan_dir))
    stranger = Subject("User", STRANGER)
    cases = []  # (persona, namespace, label, subject, expected)
    for persona, ns, cells in rows:
        for label, expected in cells.items():
            cases.append((persona, ns, label, personas[persona], expected))
    for ns in sorted({ns for _p, ns, _c in rows}):
        for label, check in CHECKS.items():
            expected = offline.allowed(stranger, check.verb, check.resource,
                                       namespace=None if check.cluster_scoped else ns,
                                       api_group=check.api_group, subresource=check.subresource)
            cases.append((f"stranger ({STRANGER})", ns, label, stranger, expected))
    return cases


def disagreements(lab, cases) -> tuple[list[str], int]:
    reviews = []
    for _persona, ns, label, subject, _expected in cases:
        user, groups = user_info(subject)
        reviews.append(access_review(user, groups, CHECKS[label], ns))
    answers = ask(lab, reviews)
    return [
        f"{persona} in {ns}: {label}: rbac.md says {'yes' if expected else 'no'}, "
        f"the API server says {'yes' if real else 'no'}"
        for (persona, ns, label, _s, expected), real in zip(cases, answers) if real != expected], len(answers)


def test_real_authorizer_agrees_with_rbac_md(stack_lab, matrix_cases):
    _lab, result = stack_lab
    found, asked = disagreements(stack_lab[0], matrix_cases)
    print(f"{result.stack}: {asked} who-can cells asked of the API server")
    assert not found, f"{result.stack}: {len(found)} of {asked} cells disagree:\n" + "\n".join(found)


def test_a_wrong_cell_is_caught(stack_lab, matrix_cases):
    """The comparison is live: flip one yes and one no of the matrix and both are reported."""
    lab, _result = stack_lab
    yes = next(c for c in matrix_cases if c[4])
    no = next(c for c in matrix_cases if not c[4])
    flipped = [(*yes[:4], False), (*no[:4], True)]
    found, _ = disagreements(lab, flipped)
    assert len(found) == 2, found


def test_matrix_is_not_vacuous(stack_lab, matrix_cases):
    # Both answers occur, so agreement cannot come from an API server that says the same to all.
    expected = [e for *_rest, e in matrix_cases]
    assert True in expected and False in expected


def test_kubectl_auth_can_i_matches_the_review(stack_lab, matrix_cases):
    """The same question through `kubectl auth can-i --as --as-group` (impersonation) for one
    allowed and one denied cell of every persona."""
    lab, _result = stack_lab
    seen: dict[tuple[str, bool], tuple] = {}
    for case in matrix_cases:
        seen.setdefault((case[0], case[4]), case)
    for persona, ns, label, subject, expected in seen.values():
        check = CHECKS[label]
        user, groups = user_info(subject)
        resource = check.resource + (f".{check.api_group}" if check.api_group else "")
        args = ["auth", "can-i", check.verb, resource, "--as", user]
        for g in groups:
            if g != AUTHENTICATED:
                args += ["--as-group", g]
        if check.subresource:
            args += ["--subresource", check.subresource]
        args += ["--all-namespaces"] if check.cluster_scoped else ["-n", ns]
        proc = lab.kubectl(*args)
        answer = proc.stdout.strip()
        assert answer in ("yes", "no"), f"{args}: {proc.stdout!r} {proc.stderr!r}"
        assert (answer == "yes") == expected, f"{persona} in {ns}: {label}: rbac.md {expected}, can-i {answer}"
