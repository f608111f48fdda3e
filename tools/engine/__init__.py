"""The engine tier: the real Pulumi CLI and providers (engine/README.md)."""
