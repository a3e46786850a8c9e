#!/usr/bin/env bash
# Mint the portal's base images locally and push them to the portal registry.
# No upstream registry is reachable from the project's machines, so nothing can be pulled: the
# images are built from Debian packages on this machine. Needs dockerd, the registry, busybox-static
# and debootstrap (scripts/ensure-services.sh provides them). Idempotent: an image already in the
# registry is left alone.
set -euo pipefail

REGISTRY=${PORTAL_REGISTRY:-127.0.0.1:5000}
# Without this Accept header the registry converts to schema1 and answers a different digest.
V2=application/vnd.docker.distribution.manifest.v2+json
IMAGES=("base/busybox:1.35 build_busybox" "base/debian:bookworm build_debian")
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf '%-32s %s\n' "$1" "$2"; }
# The registry answers the portal's tokens only (scripts/ensure-services.sh): the curator identity
# pushes and reads the base repositories. The project's venv signs them (make venv).
token() { .venv/bin/python manage.py registry_token curator "repository:$1:pull,push"; }
registry_digest() { # NAME TAG -> manifest digest, or nothing when absent
  { curl -fsI -m 10 -H "Accept: $V2" -H "Authorization: Bearer $(token "$1")" \
      "http://$REGISTRY/v2/$1/manifests/$2" || true; } |
    tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }'
}

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
[ -x .venv/bin/python ] || { echo "No .venv: run make venv first" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "Docker Engine not answering: run scripts/ensure-services.sh" >&2; exit 1; }
[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$REGISTRY/v2/")" = 401 ] ||
  { echo "Registry $REGISTRY not answering with token auth: run scripts/ensure-services.sh" >&2; exit 1; }

# Two concurrent runs on a shared machine would both spend a minute in debootstrap.
exec 9>/run/lock/portal-base-images.lock
flock 9

tmp=$(mktemp -d /var/tmp/portal-base.XXXXXX)
cleanup() {
  # A failed debootstrap can leave proc/sys mounted inside the target: never recurse into them.
  grep -o " $tmp/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

build_busybox() { # REF
  local root=$tmp/busybox
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var/tmp,tmp}
  cp /bin/busybox "$root/bin/busybox"
  local applet
  /bin/busybox --list-full | while read -r applet; do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  # Only root and nobody: recipes create their own users (busybox adduser/addgroup need these files).
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$root/etc/group"
  printf '%s\n' 'root:*:19000:0:99999:7:::' 'nobody:*:19000:0:99999:7:::' >"$root/etc/shadow"
  chmod 600 "$root/etc/shadow"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  tar --numeric-owner -C "$root" -c . |
    docker import --change 'CMD ["/bin/sh"]' --change "ENV PATH=$DEFAULT_PATH" - "$1" >/dev/null
}

apt_source() { # SUITE-REGEX -> first URI of the machine's apt sources whose path ends like it
  { grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
    grep -hiE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | cut -d: -f2- | tr ' ' '\n'
  } | sed 's:/*$::' | grep -E "$1\$" | head -1 || true
}

build_debian() { # REF
  local root=$tmp/debian mirror security
  mirror=$(apt_source '/debian')
  mirror=${mirror:-http://deb.debian.org/debian}
  security=$(apt_source '/debian-security')
  security=${security:-${mirror}-security}
  say "" "debootstrap from $mirror (about 40 s)"
  if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 20 "$tmp/debootstrap.log" >&2
    return 1
  fi
  # Trim and configure like the official debian image (debuerreotype): no package caches or lists
  # in the image, and no caches left in the layers that `apt-get update`/`install` create later.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*
  mkdir -p "$root/var/lib/apt/lists/partial"
  rm -f "$root/var/log/bootstrap.log"
  : >"$root/etc/resolv.conf"   # debootstrap copies the host's; Docker mounts its own at run time
  echo localhost >"$root/etc/hostname"
  local conf=$root/etc/apt/apt.conf.d
  cat >"$conf/docker-clean" <<'EOF'
# Package installs happen in "docker build" steps, so apt's caches would only bloat each layer.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf '%s\n' 'APT::Install-Recommends "false";' 'APT::Install-Suggests "false";' >"$conf/docker-no-recommends"
  echo 'Acquire::GzipIndexes "true";' >"$conf/docker-gzip-indexes"        # lists stay compressed
  echo 'Acquire::Languages "none";' >"$conf/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$conf/docker-autoremove-suggests"
  # Services cannot start during "docker build"; tell maintainer scripts not to try.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  tar --numeric-owner -C "$root" -c . |
    docker import --change 'CMD ["/bin/bash"]' --change "ENV PATH=$DEFAULT_PATH" - "$1" >/dev/null
  rm -rf --one-file-system "$root"
}

refs=()
for entry in "${IMAGES[@]}"; do
  read -r image builder <<<"$entry"
  ref=$REGISTRY/$image
  refs+=("$ref")
  if [ -n "$(registry_digest "${image%:*}" "${image##*:}")" ]; then
    say "$ref" "present"
    continue
  fi
  if docker image inspect "$ref" >/dev/null 2>&1; then
    say "$ref" "in the engine, pushing"
  else
    say "$ref" "building"
    start=$EPOCHREALTIME
    "$builder" "$ref"
    say "$ref" "imported in $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s, pushing"
  fi
  # The docker CLI sends a config's `registrytoken` to the registry as it is.
  printf '{"auths": {"%s": {"registrytoken": "%s"}}}' "$REGISTRY" "$(token "${image%:*}")" >"$tmp/docker-config.json"
  mkdir -p "$tmp/docker-config" && mv "$tmp/docker-config.json" "$tmp/docker-config/config.json"
  docker --config "$tmp/docker-config" push "$ref" >/dev/null
done

for ref in "${refs[@]}"; do
  image=${ref#"$REGISTRY"/}
  digest=$(registry_digest "${image%:*}" "${image##*:}")
  [ -n "$digest" ] || { echo "$ref: not in the registry after push" >&2; exit 1; }
  echo "$ref@$digest"
done
