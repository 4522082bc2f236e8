"""Pre-trade risk controls: configured limits per account, and kill switches."""
