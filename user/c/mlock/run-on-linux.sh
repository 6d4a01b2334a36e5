#!/bin/sh
# run-on-linux.sh OUTDIR - run every built conformance program on the host.
# Must run as root (the programs drop to uid 65534 themselves for the
# unprivileged cases).  Prints PASS/FAIL per program (with the program's
# TAP output on failure, or always with VERBOSE=1) and a summary line;
# exits non-zero if anything failed.
set -u
if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
echo "# host kernel: $(uname -r), uid: $(id -u)"
pass=0; fail=0; failed=""
for src in "$HERE"/*.c; do
	name=$(basename "$src" .c)
	bin="$OUT/$name"
	if [ ! -x "$bin" ]; then
		echo "FAIL $name (not built)"
		fail=$((fail + 1)); failed="$failed $name"
		continue
	fi
	log=$(mktemp)
	# Each program must finish quickly; 60 s is a generous safety net.
	timeout 60 "$bin" >"$log" 2>&1
	rc=$?
	summary=$(grep '^# [0-9]* passed' "$log" | tail -1 | sed 's/^# //')
	if [ $rc -eq 0 ]; then
		echo "PASS $name ($summary)"
		pass=$((pass + 1))
		[ "${VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log"
	else
		echo "FAIL $name (exit $rc; ${summary:-no summary})"
		sed 's/^/    /' "$log"
		fail=$((fail + 1)); failed="$failed $name"
	fi
	rm -f "$log"
done
echo "# programs: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
