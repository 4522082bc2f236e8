"""The gateway's use cases, free of any transport: accounts, orders, order updates, risk, market
data and portfolio, each a package with its own surface."""

__all__: list[str] = []
