# swap_pressure.sh: the stress programs under real memory pressure.
# Run as `busybox sh swap_pressure.sh` as init on a small machine with
# swap (cargo xtask test boots it with 160 MiB, zram and the invariant
# checker): swap_mlock keeps reclaim busy in the background (8 MiB locked,
# 200 MiB written and read back) while mm_stress (threads mapping,
# protecting, locking and unmapping at once) and syscall_fuzz (random mm
# calls, bad arguments included) run in the foreground. Each program must
# pass its own checks while pages are being swapped out and in around it.
# Each check prints `ok - WHAT` or `not ok - WHAT (...)`; the last line
# counts them and the exit status is the failures.
pass=0
fail=0
check() {
	if [ "$2" = "$3" ]; then
		pass=$((pass + 1))
		echo "ok - $1"
	else
		fail=$((fail + 1))
		echo "not ok - $1 (got '$2', expected '$3')"
	fi
}
vmstat() {
	grep "^$1 " /proc/vmstat | cut -d' ' -f2
}

out0=$(vmstat pswpout)
in0=$(vmstat pswpin)
/swap_mlock 8 200 1 > /tmp/swap_mlock.out 2>&1 &
bg=$!
# Start the foreground once reclaim is swapping (at most a minute).
n=0
while [ "$(vmstat pswpout)" -le "$out0" ] && [ $n -lt 60 ]; do
	sleep 1
	n=$((n + 1))
done
check "swap_mlock's writes start reclaim" "$(( $(vmstat pswpout) > out0 ))" "1"
out1=$(vmstat pswpout)
/mm_stress 600 3 > /tmp/mm_stress.out 2>&1
check "mm_stress under pressure" "$?" "0"
/syscall_fuzz 1500 7 > /tmp/syscall_fuzz.out 2>&1
check "syscall_fuzz under pressure" "$?" "0"
check "pages were swapped out while they ran" "$(( $(vmstat pswpout) > out1 ))" "1"
wait $bg
check "swap_mlock beside them" "$?" "0"
for f in swap_mlock mm_stress syscall_fuzz; do
	# The summary line, or everything a program that failed printed.
	if grep -q "^$f: .* passed, 0 failed" /tmp/$f.out; then
		grep "^$f: " /tmp/$f.out | sed 's/^/# /'
	else
		sed 's/^/# /' /tmp/$f.out
	fi
done
check "pages were swapped back in" "$(( $(vmstat pswpin) > in0 ))" "1"
echo "swap_pressure: $pass passed, $fail failed"
exit $fail
