# Builds the `incidex` binary (SQLite and libpq are compiled in by their
# crates' bundled features, so the runtime image needs no database client).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p incidex-api --bin incidex

FROM debian:bookworm-slim
# CA certificates: webhooks are delivered over HTTPS (rustls reads the
# system's trust store).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home-dir /var/lib/incidex --create-home incidex
COPY --from=build /src/target/release/incidex /usr/local/bin/incidex
USER incidex
WORKDIR /var/lib/incidex
ENV INCIDEX_LISTEN=0.0.0.0:8080 INCIDEX_DATA_DIR=/var/lib/incidex
EXPOSE 8080
ENTRYPOINT ["incidex"]
CMD ["serve"]
