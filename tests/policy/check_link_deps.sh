#!/usr/bin/env bash
# The dependency direction, read from the libraries themselves: NM LIB FORBIDDEN_REGEX.
# Fails listing every undefined symbol of LIB that matches the regex (for nfp_policy: any
# HDF5, PNG, MuJoCo, ZeroMQ, GLFW or OSMesa function; for nfp_core: anything but libc).
set -euo pipefail
nm_bin=$1 lib=$2 forbidden=$3
needs=$("$nm_bin" -u "$lib" | awk 'NF == 2 && $1 == "U" {print $2}' | sort -u)
[ -n "$needs" ] || { echo "no undefined symbols read from $lib (nm failed?)"; exit 1; }
bad=$(grep -E "$forbidden" <<<"$needs" || true)
if [ -n "$bad" ]; then
  echo "$(basename "$lib") needs symbols it must not:"
  echo "$bad"
  exit 1
fi
echo "$(basename "$lib"): $(wc -l <<<"$needs") undefined symbols, none matching $forbidden"
