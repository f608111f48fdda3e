"""The sample app's Kubernetes objects (pure): a whoami Deployment and its Service.

It is the workload that proves the platform path end to end — Pod Security `restricted`,
quota-fitting resources, default-deny with the Traefik allow, a certificate, an IngressRoute.
"""

from __future__ import annotations

from components.kube_specs import restricted_pod_security_context, restricted_security_context

APP = "whoami"
# The image runs as root unless told otherwise (no USER in it): pin an unprivileged uid.
NOBODY = 65534


def labels(namespace: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": namespace}


def deployment(namespace: str, *, image: str, port: int, replicas: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": namespace, "labels": labels(namespace)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(namespace)},
            "template": {
                "metadata": {"labels": labels(namespace)},
                "spec": {
                    "automountServiceAccountToken": False,  # it never talks to the API
                    "securityContext": restricted_pod_security_context(run_as=NOBODY, fs_group=NOBODY),
                    "containers": [{
                        "name": APP,
                        "image": image,
                        "args": ["--port", str(port)],  # unprivileged port
                        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
                        "securityContext": restricted_security_context(),
                        "resources": {
                            "requests": {"cpu": "10m", "memory": "32Mi"},
                            "limits": {"cpu": "100m", "memory": "64Mi"},
                        },
                        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10},
                        "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 20},
                        # The only writable path, explicit and bounded.
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def service(namespace: str, *, port: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": APP, "namespace": namespace, "labels": labels(namespace)},
        "spec": {
            "type": "ClusterIP",
            "selector": labels(namespace),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
