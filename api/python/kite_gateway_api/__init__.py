"""kite-gateway's API for the services that call it: the generated kite_gateway.v1 messages and gRPC
stubs in `kite_gateway_api.v1` (scripts/gen_protos.py writes them; nothing here is hand-written but
this file)."""
