#!/usr/bin/env bash
# Build every user program (Rust and C) and copy the executables into OUTDIR.
#   user/build.sh OUTDIR
# Rust: cargo build -p holdfast-user --release --target x86_64-unknown-none
# C:    user/c/build.sh OUTDIR (musl-gcc -static)
# Files: user/scripts/* (permissions kept)
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
mkdir -p "$out"

(cd "$root" && cargo build -p holdfast-user --release --target x86_64-unknown-none)
tgt=${CARGO_TARGET_DIR:-$root/target}
for b in hello abi_basic bad_input threads segv contend; do
	cp "$tgt/x86_64-unknown-none/release/$b" "$out/$b"
done
"$here/c/build.sh" "$out"
# Scripts and other test files, with their permissions.
cp -p "$here"/scripts/* "$out/"
echo "built into $out"
