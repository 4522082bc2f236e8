"""http."""

from kite_gateway.http.endpoints import HttpEndpoints

__all__ = ["HttpEndpoints"]
