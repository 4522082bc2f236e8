"""Portfolio use cases: positions with P&L, holdings and their summary, position conversion, and a
view across accounts."""
