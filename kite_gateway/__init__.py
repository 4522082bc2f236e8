"""kite-gateway: a gRPC trading gateway in front of Zerodha's Kite Connect v3 API (the server).

Services that call it install kite-gateway-api (`kite_gateway_api.v1`, generated) or
kite-gateway-client, never this package.
"""

__version__ = "0.1.0"
