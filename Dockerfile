# kite-gateway image: slim Python, the gateway installed from wheels, running as a non-root user.
# Kubernetes probes it with its native gRPC probe (grpc.health.v1 on port 50051); plain Docker
# uses the HEALTHCHECK below, which runs the same check through `kite-gateway health`.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api/python ./api/python
COPY kite_gateway ./kite_gateway
COPY kite_wire ./kite_wire
COPY kite_simulator ./kite_simulator
RUN pip wheel --no-cache-dir --wheel-dir /wheels ./api/python .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/kite-gateway kite
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels kite-gateway && rm -rf /wheels
USER 10001
WORKDIR /var/lib/kite-gateway
# Supply KITE_GATEWAY_SECRET_KEY (or mount a key file and set KITE_GATEWAY_SECRET_KEY_FILE) from a secret.
ENV KITE_GATEWAY_LISTEN=0.0.0.0:50051 \
    KITE_GATEWAY_HTTP_LISTEN=0.0.0.0:8080 \
    KITE_GATEWAY_DATA_DIR=/var/lib/kite-gateway/data \
    GRPC_VERBOSITY=ERROR \
    PYTHONUNBUFFERED=1
EXPOSE 50051 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s \
    CMD ["kite-gateway", "health", "--address", "127.0.0.1:50051"]
ENTRYPOINT ["kite-gateway"]
CMD ["serve"]
