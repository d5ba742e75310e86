#!/usr/bin/env bash
# Proves the VM harness on the real kernel, without any Swift code: IPVS via ipvsadm, netns, veth,
# bridge, IPVS NAT forwarding between namespaces, a dynamically linked --with-bin, --with-file,
# --env, argument quoting, exit status propagation and the timeout path.
# usage: selftest.sh [--quick]   (--quick skips the timeout check, which waits for the timeout)
# Prints "N passed, M failed"; exits non-zero when anything failed.
set -euo pipefail
umask 022
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"
quick=0
[[ "${1:-}" == --quick ]] && quick=1

pass=0
fail=0
ok() {
  pass=$((pass + 1))
  echo "ok - $*"
}
bad() {
  fail=$((fail + 1))
  echo "not ok - $*"
}

ip_bin="$(vm_require_command ip iproute2)"

t0=$(date +%s.%N)
"$script_dir/build-kernel.sh" >/dev/null
t1=$(date +%s.%N)

data="$(mktemp -d "${TMPDIR:-/tmp}/lvsk-selftest.XXXXXX")"
trap 'rm -rf "$data"' EXIT
mkdir -p "$data/dir"
echo nested >"$data/dir/nested.txt"

# 1. Everything that happens inside one VM; its own ok/not ok lines and totals.
set +e
"$script_dir/run-in-vm.sh" --timeout 300 --with-bin "$ip_bin" \
  --with-file "$script_dir/lib/selftest-guest.sh:/opt/selftest/guest.sh" \
  --with-file "$data/dir:/opt/selftest/dir" --env "LVSK_SELFTEST_ENV=v a l" \
  -- sh /opt/selftest/guest.sh "a b" "it's" | tee "$data/guest.out"
guest_status=${PIPESTATUS[0]}
set -e
t2=$(date +%s.%N)
read -r gp gf < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$data/guest.out" | tail -n1)
if [[ -n "${gp:-}" ]]; then
  pass=$((pass + gp))
  fail=$((fail + gf))
  ((guest_status == 0)) && ((gf == 0)) || { [[ $gf -gt 0 ]] || bad "guest exited $guest_status"; }
else
  bad "guest checks did not report (run-in-vm exit $guest_status)"
fi

# 2. Exit status propagation, output ordering and a command without trailing newline.
set +e
out="$("$script_dir/run-in-vm.sh" --timeout 120 -- sh -c 'echo first; echo err >&2; printf last; exit 7')"
status=$?
set -e
[[ $status == 7 ]] && ok "exit status 7 propagates" || bad "exit status propagates (got $status)"
[[ "$out" == $'first\nerr\nlast' ]] && ok "stdout/stderr come back, unterminated last line kept" ||
  bad "output comes back: [$out]"
t3=$(date +%s.%N)

# 3. The timeout path: the VM is killed and the script says so with exit 124.
if ((quick == 0)); then
  set +e
  err="$("$script_dir/run-in-vm.sh" --timeout 15 -- sleep 1000 2>&1 >/dev/null)"
  status=$?
  set -e
  [[ $status == 124 && "$err" == *"timed out"* ]] && ok "a hung command times out with exit 124" ||
    bad "timeout (got $status: $err)"
fi
t4=$(date +%s.%N)

awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" 'BEGIN {
  printf "timing: prepare %.1fs, guest checks VM %.1fs, exit-status VM %.1fs, timeout check %.1fs\n",
    b - a, c - b, d - c, e - d }'
echo "$pass passed, $fail failed"
((fail == 0))
