#!/usr/bin/env bash
# Installs the Debian packages regrad needs, only those missing; apt-get update first when needed.
# With arguments, installs those packages instead (make fuzz: clang and its runtimes).
set -euo pipefail
packages=(g++ make pkg-config libopenblas-openmp-dev doctest-dev libstb-dev zlib1g-dev libcli11-dev
          dataset-fashion-mnist wamerican gnuplot-nox)
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
