# sh_basics.sh: BusyBox sh running Holdfast's processes, as on Linux.
# Run as `busybox sh sh_basics.sh` from the directory holding busybox and
# this script (the initrd's root on Holdfast, the build directory on
# Linux). Each check prints `ok - WHAT` or `not ok - WHAT (got ..., expected
# ...)`; the last line counts them and the exit status is the failures.
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

check "echo in a command substitution" "$(echo hello)" "hello"
check "a pipe through sort and head" "$(printf 'b\na\nc\n' | sort | head -n 1)" "a"
check "grep -c in a pipe" "$(printf 'x1\ny\nx2\n' | grep -c x)" "2"
check "sort -n | tail" "$(printf '10\n9\n100\n' | sort -n | tail -n 1)" "100"
check "wc -l of three lines" "$(printf '1\n2\n3\n' | wc -l)" "3"
false
check "\$? of false" "$?" "1"
true
check "\$? of true" "$?" "0"
check "\$? of a subshell's exit" "$( (exit 3); echo $?)" "3"
check "\$? of a pipeline is its last command's" "$(false | true; echo $?)" "0"
check "ls finds busybox beside the script" "$(ls . | grep -c '^busybox$')" "1"
check "cat of this script" "$(cat sh_basics.sh | head -n 1)" "# sh_basics.sh: BusyBox sh running Holdfast's processes, as on Linux."
check "a child's /proc/self/maps has its stack" "$(grep -c '\[stack\]' /proc/self/maps)" "1"
check "a while-read loop in a pipe" "$(printf '1\n2\n3\n' | { s=0; while read n; do s=$((s + n)); done; echo $s; })" "6"
check "a background job and wait" "$(sleep 0 & wait $!; echo $?)" "0"
check "a child killed by a signal" "$(sh -c 'kill -9 $$'; echo $?)" "137"
check "a trap runs its handler" "$(sh -c 'trap "echo trapped" USR1; kill -USR1 $$; echo after')" "trapped
after"
check "getppid in a child is the shell" "$(sh -c 'echo $PPID')" "$$"
check "exec replaces the shell" "$(sh -c 'exec echo replaced; echo not')" "replaced"
check "nested command substitutions" "$(echo $(echo $(echo deep)))" "deep"
check "an exit status through sh -c" "$(sh -c 'exit 42'; echo $?)" "42"
check "xargs runs a command per line" "$(printf 'a\nb\n' | xargs echo)" "a b"

echo "sh_basics: $pass passed, $fail failed"
exit $fail
