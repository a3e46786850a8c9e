#!/usr/bin/env bash
# Make sure the services the portal needs answer, installing and starting what is missing.
# Usage: scripts/ensure-services.sh [--with-db] [--with-browser]
# Services are started without systemd because CI machines and containers have none; everything
# is probed first so that a machine where all is up costs a few fast checks and nothing else.
set -euo pipefail

REGISTRY=${PORTAL_REGISTRY:-127.0.0.1:5000}
REG_DIR=/var/lib/portal-registry
# The portal is the registry's token server: the registry trusts TOKEN_DIR/cert.pem and sends clients
# to the realm (the portal's /registry/token); the portal signs with TOKEN_DIR/key.pem
# (PORTAL_REGISTRY_TOKEN_KEY_FILE). Anonymous requests answer 401.
TOKEN_DIR=$REG_DIR/token
REALM=${PORTAL_REGISTRY_REALM:-http://${PORTAL_BIND:-127.0.0.1:8000}/registry/token}
APT_CACHE_PORT=${PORTAL_APT_CACHE_PORT:-3142}
APT_CACHE_CONF=/etc/portal-apt-cache
with_db=0 with_browser=0
for arg in "$@"; do
  case $arg in --with-db) with_db=1 ;; --with-browser) with_browser=1 ;;
    *) echo "usage: $0 [--with-db] [--with-browser]" >&2; exit 64 ;; esac
done

say() { printf '%-9s %s\n' "$1" "$2"; }
have() { command -v "$1" >/dev/null 2>&1; }
# shellcheck disable=SC2016  # $1/$2 expand in the inner bash
tcp_open() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }
wait_for() { # wait_for SECONDS CHECK...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}
# shellcheck disable=SC2329  # called through need()
pkg_ok() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

docker_up() { docker info >/dev/null 2>&1; }
registry_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$REGISTRY/v2/" || true; }
# Up means: answering with our token auth (401 sending clients to our realm).
registry_up() {
  curl -s -D - -o /dev/null -m 2 "http://$REGISTRY/v2/" 2>/dev/null | tr -d '\r' |
    grep -qi "^www-authenticate: Bearer realm=\"$REALM\""
}
pg_up() { if have pg_isready; then pg_isready -q -h 127.0.0.1 -p 5432; else tcp_open 127.0.0.1 5432; fi; }
redis_up() {
  if have redis-cli; then [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; else tcp_open 127.0.0.1 6379; fi
}

# --- Probe: decide what has to be started and which Debian packages that needs. -------------------
declare -A hint=(
  [curl]="install curl"
  [docker.io]="install Docker Engine, then: setsid nohup dockerd >/var/log/dockerd.log 2>&1 &"
  [docker-registry]="install the Distribution registry, then: registry serve <config with auth: token (realm $REALM), http.addr $REGISTRY>"
  [openssl]="install openssl (makes the registry token key)"
  [busybox-static]="install a statically linked busybox at /bin/busybox"
  [debootstrap]="install debootstrap"
  [postgresql]="install PostgreSQL listening on 127.0.0.1:5432 with trust auth for 127.0.0.1"
  [redis-server]="install Redis and start it on 127.0.0.1:6379"
  [chromium]="install Chromium at /usr/lib/chromium/chromium"
  [apt-cacher-ng]="install apt-cacher-ng and serve it on the docker0 address, port $APT_CACHE_PORT"
  [iproute2]="install iproute2 (the ip command)"
  [tinyproxy]="install tinyproxy (the build network's proxy)"
  [iptables]="install iptables (keeps build steps off the host's ports)"
  [skopeo]="install skopeo (tests check the registry's access control with it)"
)
pkgs=()
need() {   # need PKG CHECK...: queue PKG for installation (once) unless CHECK passes
  "${@:2}" >/dev/null 2>&1 || [[ " ${pkgs[*]} " == *" $1 "* ]] || pkgs+=("$1")
}

need curl have curl
need busybox-static pkg_ok busybox-static     # a dynamic busybox would not run inside the image
need debootstrap have debootstrap
need apt-cacher-ng test -x /usr/sbin/apt-cacher-ng   # the package cache builds share (PORTAL_APT_PROXY)
need iproute2 have ip
need openssl have openssl
[ -z "${PORTAL_BUILD_NETWORK-portal-builds}" ] || need tinyproxy test -x /usr/bin/tinyproxy
need iptables have iptables
start_docker=0 start_registry=0 start_pg=0 start_redis=0
docker_up || { start_docker=1; need docker.io have dockerd; }
if ! have curl || ! registry_up; then start_registry=1; need docker-registry test -x /usr/bin/docker-registry; fi
if ((with_db)); then
  pg_up || start_pg=1
  redis_up || start_redis=1
  # Needed even when the shared services already answer (say, from containers): the fault tests
  # start private instances of all three from these binaries (tests/integration/private_services.py).
  need postgresql compgen -G '/usr/lib/postgresql/*/bin/initdb'
  need redis-server have redis-server
  need docker-registry test -x /usr/bin/docker-registry
fi
((with_browser)) && need chromium test -x /usr/lib/chromium/chromium
# An independent registry client for the tests of the registry's access control.
((with_db)) && need skopeo have skopeo

# --- Install everything missing in one apt run (one `apt-get update`, one dependency solve). -------
if ((${#pkgs[@]})); then
  if ! have apt-get; then
    echo "Not a Debian machine: cannot install what is missing. Please:" >&2
    for p in "${pkgs[@]}"; do echo "  - ${hint[$p]} (Debian package: $p)" >&2; done
    exit 1
  fi
  say apt "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l
  apt-get update -qq
  apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
say tools "busybox-static, debootstrap, curl, apt-cacher-ng installed"

# --- Docker Engine --------------------------------------------------------------------------------
if ((start_docker)) && ! docker_up; then
  setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  wait_for 30 docker_up || { echo "dockerd did not answer in 30 s; see /var/log/dockerd.log" >&2; exit 1; }
  say docker "started"
else
  say docker "running"
fi

# --- Registry -------------------------------------------------------------------------------------
# The token key and the certificate the registry trusts, made once (both survive restarts).
if [ ! -s "$TOKEN_DIR/key.pem" ] || [ ! -s "$TOKEN_DIR/cert.pem" ]; then
  install -d -m 700 "$TOKEN_DIR"
  openssl ecparam -name prime256v1 -genkey -noout -out "$TOKEN_DIR/key.pem.new" 2>/dev/null
  openssl req -new -x509 -key "$TOKEN_DIR/key.pem.new" -out "$TOKEN_DIR/cert.pem.new" -days 3650 \
    -subj "/CN=image-portal registry tokens" 2>/dev/null
  chmod 600 "$TOKEN_DIR/key.pem.new"
  mv "$TOKEN_DIR/cert.pem.new" "$TOKEN_DIR/cert.pem" && mv "$TOKEN_DIR/key.pem.new" "$TOKEN_DIR/key.pem"
  say registry "token key made in $TOKEN_DIR"
fi
if ((start_registry)) && ! registry_up; then
  # A non-default address gets its own config and storage so two registries never share a data dir.
  port=${REGISTRY##*:} suffix=""
  [ "$REGISTRY" = 127.0.0.1:5000 ] || suffix="-$port"
  conf=$REG_DIR/config$suffix.yml
  code=$(registry_code)
  if [ "$code" != 000 ]; then
    # Ours, from before token auth (or with another realm): restarted with today's config. Anything
    # else (typically Debian's own docker-registry service, whose default config demands htpasswd) stays.
    ours=$(pgrep -f "^/usr/bin/docker-registry serve $conf\$" || true)
    if [ -z "$ours" ]; then
      echo "Something else answers on http://$REGISTRY/v2/ with HTTP $code; stop it and rerun." >&2
      exit 1
    fi
    # shellcheck disable=SC2086  # one pid per word
    kill $ours
    # shellcheck disable=SC2086
    wait_for 10 bash -c "! kill -0 $ours 2>/dev/null" || { echo "our registry ($ours) did not stop" >&2; exit 1; }
    say registry "restarting with token auth (realm $REALM)"
  fi
  case $REGISTRY in 127.0.0.1:* | localhost:*) ;; *) echo "Registry $REGISTRY does not answer" >&2; exit 1 ;; esac
  # Debian's default config enables htpasswd auth and listens on all interfaces, hence our own.
  mkdir -p "$REG_DIR/data$suffix"
  cat >"$conf" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG_DIR/data$suffix
  delete:
    enabled: true
http:
  addr: $REGISTRY
auth:
  token:
    realm: $REALM
    service: portal-registry
    issuer: image-portal
    rootcertbundle: $TOKEN_DIR/cert.pem
EOF
  # Its heap is a few MB, so Go's default GOGC=100 collects every few requests: half of the registry's
  # CPU per request here (1.7 vs 0.8 ms on GET /v2/; a publication's 34 requests 118 vs 65-80 ms).
  # GOGC=800 keeps it under 50 MB of memory.
  GOGC=800 setsid nohup /usr/bin/docker-registry serve "$conf" >>"/var/log/portal-registry$suffix.log" 2>&1 </dev/null &
  wait_for 15 registry_up || { echo "registry did not answer; see /var/log/portal-registry$suffix.log" >&2; exit 1; }
  say registry "started on $REGISTRY ($conf, token auth: $REALM)"
else
  say registry "running on $REGISTRY (token auth: $REALM)"
fi

# --- Package cache for builds (apt-cacher-ng) -------------------------------------------------------
# Build containers on the default bridge reach the host at docker0's address, so the cache listens
# there (and on loopback); nothing outside the machine can reach it. Our own config rather than
# Debian's: its default remaps Debian URLs to a mirror list this machine may not reach, while a plain
# caching proxy fetches from whatever mirror the image's sources.list names. Builds send every plain
# HTTP request here, and acng answers 403 to files it does not know as package data: VfilePatternEx
# makes any other file "volatile" (fetched again each time), so a step's own downloads keep working.
bridge=$(ip -4 -o addr show docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
if [ -z "$bridge" ]; then
  say apt-cache "no docker0 bridge address: builds go direct to the mirrors"
elif tcp_open "$bridge" "$APT_CACHE_PORT"; then
  say apt-cache "running on http://$bridge:$APT_CACHE_PORT"
else
  mkdir -p "$APT_CACHE_CONF"
  printf '%s\n' "CacheDir: /var/cache/apt-cacher-ng" "LogDir: /var/log/apt-cacher-ng" \
    "SupportDir: /usr/lib/apt-cacher-ng" "Port: $APT_CACHE_PORT" "BindAddress: $bridge 127.0.0.1" \
    "ReportPage: acng-report.html" "ExThreshold: 4" "VfilePatternEx: .*" >"$APT_CACHE_CONF/acng.conf"
  install -d -o apt-cacher-ng -g apt-cacher-ng /run/apt-cacher-ng /var/cache/apt-cacher-ng /var/log/apt-cacher-ng
  start-stop-daemon --start --quiet --chuid apt-cacher-ng --group apt-cacher-ng --pidfile /run/apt-cacher-ng/pid \
    --exec /usr/sbin/apt-cacher-ng -- -c "$APT_CACHE_CONF" pidfile=/run/apt-cacher-ng/pid \
    SocketPath=/run/apt-cacher-ng/socket foreground=0
  wait_for 15 tcp_open "$bridge" "$APT_CACHE_PORT" ||
    { echo "apt-cacher-ng did not answer; see /var/log/apt-cacher-ng/apt-cacher.err" >&2; exit 1; }
  say apt-cache "started on http://$bridge:$APT_CACHE_PORT"
fi
[ -z "$bridge" ] || say "" "builds use it with PORTAL_APT_PROXY=http://$bridge:$APT_CACHE_PORT"

# --- The build network: what RUN steps can reach -----------------------------------------------------
# Build steps run on an internal Docker network: no route out, and the host drops everything they
# send it except to the build proxy (tinyproxy on the network's gateway address), which forwards only
# to the allowed hosts (Debian's mirrors through the package cache, PyPI, and PORTAL_BUILD_ALLOWED_HOSTS).
# So a Dockerfile's RUN reaches neither the host's other ports, nor internal services, nor a cloud
# metadata address.
BUILD_NET=${PORTAL_BUILD_NETWORK-portal-builds}
BUILD_PROXY_PORT=${PORTAL_BUILD_PROXY_PORT:-3128}
if [ -n "$BUILD_NET" ]; then
  docker network inspect "$BUILD_NET" >/dev/null 2>&1 ||
    docker network create --internal --driver bridge -o com.docker.network.bridge.name="$BUILD_NET" "$BUILD_NET" >/dev/null
  gateway=$(docker network inspect "$BUILD_NET" -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
  subnet=$(docker network inspect "$BUILD_NET" -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}')
  # The host's side: from the build bridge only the proxy's port gets in.
  iptables -N PORTAL-BUILDS 2>/dev/null || iptables -F PORTAL-BUILDS
  iptables -A PORTAL-BUILDS -p tcp -d "$gateway" --dport "$BUILD_PROXY_PORT" -j ACCEPT
  iptables -A PORTAL-BUILDS -j DROP
  iptables -C INPUT -i "$BUILD_NET" -j PORTAL-BUILDS 2>/dev/null || iptables -I INPUT -i "$BUILD_NET" -j PORTAL-BUILDS
  mkdir -p /etc/portal-build-proxy
  allowed="deb.debian.org security.debian.org pypi.org files.pythonhosted.org ${PORTAL_BUILD_ALLOWED_HOSTS:-}"
  for host in $allowed; do printf '^%s$\n' "${host//./\\.}"; done >/etc/portal-build-proxy/allowed.new
  conf=/etc/portal-build-proxy/tinyproxy.conf
  {
    printf '%s\n' "User tinyproxy" "Group tinyproxy" "Port $BUILD_PROXY_PORT" "Listen $gateway" "Timeout 600" \
      "LogLevel Warning" "Syslog Off" 'PidFile "/run/portal-build-proxy/pid"' 'LogFile "/var/log/portal-build-proxy.log"' \
      "MaxClients 100" "Allow $subnet" "ConnectPort 443" 'ViaProxyName "portal-build-proxy"' \
      'Filter "/etc/portal-build-proxy/allowed"' "FilterExtended On" "FilterDefaultDeny Yes" "FilterURLs Off" \
      "DisableViaHeader Yes"
    # Debian's files through the package cache (when it runs), so builds still share downloads.
    tcp_open 127.0.0.1 "$APT_CACHE_PORT" && printf '%s\n' "Upstream http 127.0.0.1:$APT_CACHE_PORT \".debian.org\""
  } >"$conf.new"
  if cmp -s "$conf.new" "$conf" && cmp -s /etc/portal-build-proxy/allowed.new /etc/portal-build-proxy/allowed &&
     tcp_open "$gateway" "$BUILD_PROXY_PORT"; then
    rm -f "$conf.new" /etc/portal-build-proxy/allowed.new
    say proxy "running on http://$gateway:$BUILD_PROXY_PORT (build network $BUILD_NET)"
  else
    mv "$conf.new" "$conf" && mv /etc/portal-build-proxy/allowed.new /etc/portal-build-proxy/allowed
    if [ -s /run/portal-build-proxy/pid ]; then kill "$(cat /run/portal-build-proxy/pid)" 2>/dev/null && sleep 0.5; fi
    install -d -o tinyproxy /run/portal-build-proxy
    touch /var/log/portal-build-proxy.log && chown tinyproxy /var/log/portal-build-proxy.log
    /usr/bin/tinyproxy -c "$conf"
    wait_for 10 tcp_open "$gateway" "$BUILD_PROXY_PORT" ||
      { echo "the build proxy did not answer; see /var/log/portal-build-proxy.log" >&2; exit 1; }
    say proxy "started on http://$gateway:$BUILD_PROXY_PORT for build network $BUILD_NET (allowed: $allowed)"
  fi
fi

# --- PostgreSQL and Redis -------------------------------------------------------------------------
if ((start_pg)) && ! pg_up; then
  ver=$(pg_lsclusters -h | awk '$2 == "main" { print $1; exit }')
  if [ -z "$ver" ]; then
    ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)
    pg_createcluster "$ver" main >/dev/null
  fi
  # Tests connect as `postgres` over TCP without a password. This one line (ahead of Debian's
  # scram-sha-256 rule, since the first match wins) is the only change made to the cluster.
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    sed -i '1i # Added by scripts/ensure-services.sh: passwordless TCP from 127.0.0.1 for tests.' "$hba"
  fi
  if pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
    pg_ctlcluster "$ver" main reload
  else
    pg_ctlcluster "$ver" main start || [ $? -eq 2 ]   # 2: already running
  fi
  wait_for 30 pg_up || { echo "PostgreSQL $ver did not answer on 127.0.0.1:5432" >&2; exit 1; }
  say postgres "started ($ver/main)"
elif ((with_db)); then
  say postgres "running"
fi

if ((start_redis)) && ! redis_up; then
  install -d -o redis -g redis /run/redis
  runuser -u redis -- redis-server /etc/redis/redis.conf --daemonize yes
  wait_for 15 redis_up || { echo "Redis did not answer on 127.0.0.1:6379" >&2; exit 1; }
  say redis "started"
elif ((with_db)); then
  say redis "running"
fi

((with_browser)) && say chromium "/usr/lib/chromium/chromium present"
exit 0
