# The front of the Docker deployment: Caddy (Debian's) on ports 80 and 443, ending HTTPS with the lab's own
# certificate or one from an ACME server (Let's Encrypt), redirecting HTTP to HTTPS with HSTS, passing websockets
# (kernels, terminals, TensorBoard) to the hub's proxy; without HTTPS settings, plain HTTP on port 80.
# Built from the repository root by `docker compose build`. At start, `python3 -m hub.tls caddyfile` (the same
# check of the settings the hub makes, standard library only) writes the Caddyfile, or says in one line what is
# wrong; Caddy keeps its certificates and ACME account in /data (a volume: a restart never asks again).
FROM debian:trixie-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends caddy python3 ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /config /data
WORKDIR /srv/course-front
COPY course/__init__.py course/settings.py course/
COPY hub/__init__.py hub/tls.py hub/
ENV PYTHONPATH=/srv/course-front \
    XDG_DATA_HOME=/data \
    XDG_CONFIG_HOME=/config
VOLUME ["/data"]
EXPOSE 80 443
CMD ["sh", "-c", "python3 -m hub.tls caddyfile /config/Caddyfile && exec caddy run --config /config/Caddyfile --adapter caddyfile"]
