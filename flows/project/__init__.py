"""What the user wrote: app.yaml (config), flow.yaml (manifest), the YAML
loader they share, and GitHub events as flows receive them.

Imports: flows.errors only (the lowest layer besides flows.db)."""
