"""kite-gateway: a gRPC trading gateway in front of Zerodha's Kite Connect v3 API.

The base install carries only the generated API (`kite_gateway.v1`); importing this package
must stay free of the server's dependencies.
"""

__version__ = "0.1.0"
