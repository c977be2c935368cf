# The docker tier's ACME server: Pebble, Let's Encrypt's own test server (Debian's package), in the compose
# network beside the front. Its configuration and its own HTTPS certificate are mounted at /etc/pebble by the test
# (tests/docker/test_docker_acme.py). Tests only: never part of a deployment.
FROM debian:trixie-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install --yes --no-install-recommends pebble \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
EXPOSE 14000 15000
CMD ["pebble", "-config", "/etc/pebble/config.json"]
