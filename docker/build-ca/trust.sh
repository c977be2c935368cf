# Sourced by the images' build stages (`. /tmp/build-ca/trust.sh`) before they download: trust Debian's CAs
# plus the certificates in this folder (*.crt, *.pem) for pip, npm and Python. Without extra certificates it
# changes nothing. See README.md here.
_course_extra=$(find /tmp/build-ca -maxdepth 1 -type f \( -name '*.crt' -o -name '*.pem' \) | sort)
if [ -n "$_course_extra" ]; then
    # shellcheck disable=SC2086
    cat /etc/ssl/certs/ca-certificates.crt $_course_extra > /tmp/build-ca-bundle.pem
    export PIP_CERT=/tmp/build-ca-bundle.pem SSL_CERT_FILE=/tmp/build-ca-bundle.pem \
        REQUESTS_CA_BUNDLE=/tmp/build-ca-bundle.pem NPM_CONFIG_CAFILE=/tmp/build-ca-bundle.pem \
        NODE_EXTRA_CA_CERTS=/tmp/build-ca-bundle.pem
    echo "build: trusting $(echo "$_course_extra" | wc -l) extra CA file(s) from docker/build-ca/ for this stage"
fi
unset _course_extra
