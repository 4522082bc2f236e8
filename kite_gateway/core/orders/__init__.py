"""Orders as use cases, over the typed Kite adapter (kite_gateway/kite/orders.py) and free of any
transport: requests (the use cases' own types), validation before Kite (new orders and
modifications alike), trading (place, modify, cancel), bulk placement, queries, previews,
kill-switch actions, and placement that never duplicates (placement, dispatch, duplicates)."""
