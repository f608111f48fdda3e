"""The engine tier: the real Pulumi CLI and providers (tools/engine/README.md)."""
