"""Orders: validation before Kite, and placement that never duplicates."""
