#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian/Ubuntu machine (run as root; idempotent):
# berth's own prerequisites (as install.sh), busybox-static for fixture images, attr for
# reading xattrs, podman and skopeo for the interoperability tests, and docker-registry (with
# apache2-utils for bcrypt htpasswd lines) for the registry tests, PyPI's kubernetes-validate in
# a venv for the kube tests, and systemd for `systemd-analyze verify` of generated units (no
# systemd needs to run), and openssh-client (ssh-agent, ssh-add, ssh-keygen) for `build --ssh`.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-test-deps.sh: run as root" >&2; exit 1; }
packages=(uidmap passt slirp4netns fuse-overlayfs fuse3 git catatonit openssh-client libseccomp-dev pkg-config busybox-static attr podman buildah runc util-linux procps python3 python3-venv debootstrap docker-registry skopeo apache2-utils systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# PyPI's kubernetes-validate checks the YAML of `kube generate` against the Kubernetes OpenAPI
# schema, offline (tests/it/kube.rs).
venv=/var/cache/berth-test/kube-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  mkdir -p /var/cache/berth-test
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q kubernetes-validate
fi
