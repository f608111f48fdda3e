"""What stands in, offline, for Pulumi and Kubernetes: code that answers as they would, so the
commands above it (the plan, policycheck, bench, the lab's checks) can work without an engine
or a cluster. `harness` runs the program under Pulumi's mocks and captures the registrations;
`engine_rules` takes the steps the engine would take between two runs, and `host_rules` what
k3s and the router would refuse of them; `policy_runner` talks to the policy pack's analyzer
as the engine does; `schemas` validates objects as the API server's schemas would; `whocan`
answers RBAC questions as the API server's authorizer would. Called "imitations" because each
module copies the behaviour of a named upstream and cites it; "offline" would also fit the plan
itself, and "stand-ins" is already the lab's word for the processes it runs in place of
systemd and k3s (tools/lab/*standin*.py). Nothing here is a command, and nothing here imports
one: tests/test_layering.py keeps it so.
"""
