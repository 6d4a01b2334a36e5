#!/usr/bin/env bash
# Run every user program from OUTDIR on this (Linux) host and report pass/fail
# per program against its expected exit status:
#   0 for all programs, 139 (killed by SIGSEGV) for segv.
#   user/run-on-linux.sh OUTDIR        (build OUTDIR with user/build.sh)
# Each program's output goes to OUTDIR/logs/NAME.out. The last line is
# "N passed, M failed"; the script exits 0 only if every program passed.
# The same programs and expectations apply when they run on Holdfast.
set -uo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
logs=$out/logs
mkdir -p "$logs"
ulimit -c 0 # segv must not leave core files behind

# name | expected status | arguments
programs=(
	"hello|0|one two"
	"abi_basic|0|"
	"bad_input|0|"
	"threads|0|"
	"segv|139|"
	"contend|0|3 1"
	"hello_printf|0|one two"
	"malloc_stress|0|"
	"pthreads|0|"
	"clock|0|"
	"exec|0|3"
	"signals|0|"
	"sig_badframe|139|"
	"sig_segv_in_handler|139|"
	"sig_default_usr1|138|"
	"sig_default_alarm|142|"
	"sig_stack_overflow|139|"
	"tmpfs|0|"
	"fork|0|"
	"fork_mlock|0|"
	"smaps|0|"
	"shm_anon|0|"
	"shm_mlock|0|"
	"lru_lists|0|"
	"swap_mlock|0|"
	"swap_fork|0|"
	"swappiness|0|"
	"swapoff|0|"
	"file_map|0|"
	"memfd_seals|0|"
	"sysv_shm|0|"
	"wait|0|"
	"forkbomb|0|"
	"select|0|"
	"jobctl|0|"
)

pass=0
fail=0
for entry in "${programs[@]}"; do
	IFS='|' read -r name want args <<<"$entry"
	bin=$out/$name
	if [ ! -x "$bin" ]; then
		printf '%-14s FAIL (missing: %s)\n' "$name" "$bin"
		fail=$((fail + 1))
		continue
	fi
	# shellcheck disable=SC2086 # args are word-split on purpose
	# In a subshell with stderr silenced, so bash's "Segmentation fault"
	# notice for segv does not clutter the report.
	(timeout 120 "$bin" $args >"$logs/$name.out" 2>&1; exit $?) 2>/dev/null
	got=$?
	summary=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$logs/$name.out" | tail -1)
	if [ "$got" -eq "$want" ]; then
		printf '%-14s PASS (status %d) %s\n' "$name" "$got" "$summary"
		pass=$((pass + 1))
	else
		printf '%-14s FAIL (status %d, expected %d) %s\n' "$name" "$got" "$want" "$summary"
		grep -E '^not ok' "$logs/$name.out" | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
