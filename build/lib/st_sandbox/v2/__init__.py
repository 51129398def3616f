"""The official ServiceTitan v2 API surface of the sandbox (docs/api.md, "v2 surface")."""
