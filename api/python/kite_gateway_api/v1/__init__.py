"""Generated code of the kite_gateway.v1 API (scripts/gen_protos.py). Do not edit."""
