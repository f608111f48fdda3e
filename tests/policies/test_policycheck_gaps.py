"""`policycheck` through the real analyzer on the manifests issue 16 (item 15) said it passed:
each one now yields its violation and the run exits 1."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RBAC = "rbac.authorization.k8s.io/v1"

GAPS = [
    ({"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "binder", "namespace": "team-a"},
      "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["bind"]}]},
     "Role 'binder' grants verb bind"),
    ({"apiVersion": RBAC, "kind": "ClusterRole",
      "metadata": {"name": "wider-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
      "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]},
     "aggregated into view but grants secrets"),
    ({"apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": {"name": "sa-admin"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
      "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}]},
     "ServiceAccount kube-system/default to cluster-wide role 'cluster-admin'"),
    ({"apiVersion": RBAC, "kind": "RoleBinding", "metadata": {"name": "everyone", "namespace": "team-a"},
      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
      "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
     "to Group system:authenticated"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "grab", "namespace": "team-a"},
      "spec": {"ports": [{"port": 80}], "externalIPs": ["10.0.0.1"]}},
     "sets spec.externalIPs"),
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tpl", "namespace": "team-a"},
      "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
               "containers": [{"name": "a", "image": "{{ .Values.image }}",
                               "securityContext": {"allowPrivilegeEscalation": False,
                                                   "capabilities": {"drop": ["ALL"]}},
                               "resources": {"requests": {"cpu": "0", "memory": "64Mi"},
                                             "limits": {"memory": "64Mi"}}}]}},
     "unrendered template expression"),
]


def test_policycheck_reports_every_former_gap(tmp_path):
    manifest = tmp_path / "gaps.yaml"
    manifest.write_text(yaml.safe_dump_all([obj for obj, _ in GAPS]))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "tools.policycheck", str(manifest)], cwd=ROOT,
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    for _, expected in GAPS:
        assert expected in run.stdout, expected
    assert "requests.cpu set to zero" in run.stdout
