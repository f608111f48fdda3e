"""The cluster component stays thin: its __init__ composes (token, CAs, a loop over the
per-node step builders, kubeconfig, provider); what each step is lives in _NodeSteps."""

import ast
import inspect

from components.cluster import k3s_cluster


def test_k3s_cluster_init_is_at_most_60_lines():
    tree = ast.parse(inspect.getsource(k3s_cluster.K3sCluster))
    init = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    length = init.end_lineno - init.lineno + 1
    assert length <= 60, f"K3sCluster.__init__ is {length} lines: move a step into _NodeSteps"
