#!/usr/bin/env bash
# Installs berth: the system prerequisites (apt-get, as root), the release binary, its man
# pages and shell completions. Then it checks what rootless use needs and says what is missing.
#
#   ./install.sh              as root: into /usr/local; as a user: into ~/.local
#   PREFIX=/opt/berth ./install.sh
set -euo pipefail
cd "$(dirname "$0")"

# Run time: the rootless helpers. Build time: libseccomp (the seccomp filter compiler) and pkg-config.
packages=(uidmap passt slirp4netns fuse-overlayfs fuse3 git catatonit libseccomp-dev pkg-config)
if [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  PREFIX=${PREFIX:-/usr/local}
else
  echo "install.sh: not root, so not installing system packages (${packages[*]}); run it as root for those" >&2
  PREFIX=${PREFIX:-$HOME/.local}
fi

command -v cargo >/dev/null || {
  echo "install.sh: cargo not found: install a Rust toolchain (1.85 or newer, e.g. with rustup) first" >&2
  exit 1
}
cargo build --release --locked

bin="target/release/berth"
install -d "$PREFIX/bin" "$PREFIX/share/man/man1" \
  "$PREFIX/share/bash-completion/completions" "$PREFIX/share/zsh/site-functions" \
  "$PREFIX/share/fish/vendor_completions.d"
# Stripped here: the release profile keeps symbols for contrib/layout/record.sh.
install -s -m 0755 "$bin" "$PREFIX/bin/berth"
generated=$(mktemp -d)
trap 'rm -rf "$generated"' EXIT
"$bin" __generate man "$generated/man"
"$bin" __generate completions "$generated/completions"
install -m 0644 "$generated"/man/*.1 "$PREFIX/share/man/man1/"
install -m 0644 "$generated/completions/berth.bash" "$PREFIX/share/bash-completion/completions/berth"
install -m 0644 "$generated/completions/_berth" "$PREFIX/share/zsh/site-functions/_berth"
install -m 0644 "$generated/completions/berth.fish" "$PREFIX/share/fish/vendor_completions.d/berth.fish"
echo "installed berth into $PREFIX/bin"

# The Quadlet generator: systemd runs it at boot and on daemon-reload (berth reads its own
# name: a link under system-generators/ or user-generators/ is `berth systemd-generator`).
if [ "$(id -u)" = 0 ]; then
  install -d /usr/lib/systemd/system-generators /usr/lib/systemd/user-generators
  ln -sfn "$PREFIX/bin/berth" /usr/lib/systemd/system-generators/berth-generator
  ln -sfn "$PREFIX/bin/berth" /usr/lib/systemd/user-generators/berth-user-generator
  echo "installed the Quadlet generators (/usr/lib/systemd/{system,user}-generators)"
else
  install -d "$HOME/.config/systemd/user-generators"
  ln -sfn "$PREFIX/bin/berth" "$HOME/.config/systemd/user-generators/berth"
  echo "installed the Quadlet user generator (~/.config/systemd/user-generators/berth)"
fi

# What rootless use needs, for the user who will run berth.
user=${SUDO_USER:-$(id -un)}
warn() { echo "warning: $*" >&2; }
command -v newuidmap >/dev/null || warn "newuidmap is missing: install the uidmap package"
command -v pasta >/dev/null || command -v slirp4netns >/dev/null || warn "neither pasta (passt) nor slirp4netns is installed"
if [ "$user" != root ]; then
  grep -q "^$user:" /etc/subuid 2>/dev/null || warn "$user has no /etc/subuid range: run 'usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $user' as root"
fi
for dev in /dev/net/tun /dev/fuse; do
  [ -e "$dev" ] && [ "$(stat -c %a "$dev")" != 666 ] && warn "$dev is not 0666: rootless networking/fuse-overlayfs need 'chmod 0666 $dev'"
done
"$PREFIX/bin/berth" --version
