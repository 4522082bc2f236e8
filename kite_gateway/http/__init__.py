"""The gateway's HTTP listener: Kite's login callback, order postbacks, and /metrics."""

from kite_gateway.http.endpoints import HttpEndpoints

__all__ = ["HttpEndpoints"]
