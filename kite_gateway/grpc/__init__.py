"""The gRPC servicers of kite_gateway.v1 and the conversions between Kite's JSON and the protos."""
