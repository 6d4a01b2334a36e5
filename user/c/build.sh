#!/usr/bin/env bash
# Build every user/c/*.c into OUTDIR as a static musl executable.
#   user/c/build.sh OUTDIR
# Needs musl-gcc (Debian/Ubuntu: apt-get install musl-tools).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
src=$(cd "$(dirname "$0")" && pwd)
CC=${MUSL_GCC:-musl-gcc}

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "error: $CC not found; install it with: apt-get install musl-tools" >&2
	exit 1
fi

mkdir -p "$out"
for c in "$src"/*.c; do
	name=$(basename "$c" .c)
	echo "  CC  $name"
	"$CC" -static -O2 -Wall -Wextra -o "$out/$name" "$c" -lpthread
done
