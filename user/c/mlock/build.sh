#!/bin/sh
# build.sh OUTDIR - build every mlock conformance program as a static musl binary.
# Each NAME.c becomes OUTDIR/NAME.  Fails on the first compiler error.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v musl-gcc >/dev/null 2>&1; then
	echo "error: musl-gcc not found; install it with: apt-get install musl-tools" >&2
	exit 1
fi
mkdir -p "$OUT"
n=0
for src in "$HERE"/*.c; do
	name=$(basename "$src" .c)
	echo "  CC  $name"
	musl-gcc -static -O2 -Wall -Werror -o "$OUT/$name" "$src" -lpthread
	n=$((n + 1))
done
echo "built $n programs into $OUT"
