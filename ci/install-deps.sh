#!/usr/bin/env bash
# Installs the C libraries shardscan links against (Debian/Ubuntu). Safe to run again.
set -euo pipefail

# python3-jsonschema: the tests validate JSON and SARIF output against their schemas with it.
packages=(pkg-config libpcre2-dev libgit2-dev zlib1g-dev libdeflate-dev libsqlite3-dev libyaml-dev git python3-jsonschema)
case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
  amd64 | x86_64) packages+=(libhyperscan-dev) ;;
  *) packages+=(libvectorscan-dev) ;; # same API and libhs.pc; Hyperscan itself is amd64-only
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all present (${packages[*]})"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
