"""The sandbox host: engine, linking with grants, and running one flow on one event."""
