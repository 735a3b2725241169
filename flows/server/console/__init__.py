"""The operator console at `/`: what the App did, and retry, cancel and
redeliver (pages.py), behind an admin token and signed sessions (access.py)."""
