"""The gateway's persistent state: an embedded SQLite database (schema migrations, sealed secrets)."""
