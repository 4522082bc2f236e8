"""Prometheus metrics: what they are, the RPC interceptor that feeds the gRPC ones, and the collector
that reads streaming and account state at scrape time."""
