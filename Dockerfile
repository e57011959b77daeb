# syntax=docker/dockerfile:1
# The outpost-server image (docs/operations.md, "Packaging"): built from this workspace, run as
# an unprivileged user on Debian slim. Settings are the environment variables of the README's
# operator section; the embedded store lives in the /var/lib/outpost volume unless
# OUTPOST_DATABASE_URL names a PostgreSQL database (compose.yaml).
#
#   docker build -t outpost-server .
#   docker run -d -p 8737:8737 -v outpost-data:/var/lib/outpost outpost-server
#   docker exec CONTAINER outpost-server tenant create 华强销售部

FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
# Only the server's crates; the caches keep crates and objects between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p outpost-server \
    && install -m 0755 target/release/outpost-server /usr/local/bin/outpost-server

FROM debian:bookworm-slim
# ca-certificates: sslmode=verify-full to a PostgreSQL whose certificate a public CA signed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 outpost \
    && useradd --system --uid 10001 --gid outpost --home-dir /var/lib/outpost \
       --no-create-home --shell /usr/sbin/nologin outpost \
    && install -d -m 0700 -o outpost -g outpost /var/lib/outpost
COPY --from=build /usr/local/bin/outpost-server /usr/local/bin/outpost-server
ENV OUTPOST_DATA=/var/lib/outpost
ENV OUTPOST_LISTEN=0.0.0.0:8737
ENV RUST_LOG=info
USER 10001:10001
WORKDIR /var/lib/outpost
VOLUME ["/var/lib/outpost"]
EXPOSE 8737
# SIGTERM: the server finishes the requests in flight, then exits.
STOPSIGNAL SIGTERM
# No curl in the slim image: bash asks /healthz on the port OUTPOST_LISTEN names.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${OUTPOST_LISTEN##*:} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["/usr/local/bin/outpost-server"]
CMD ["serve"]
