"""Market data: the instrument master, quotes with batching and caching, historical candles."""
