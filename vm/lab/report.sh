# shellcheck shell=bash
# TAP-like results for the guest scripts (source it): ok NAME, bad NAME [DETAIL...], and
# report_summary, which prints "N passed, M failed" and returns non-zero on any failure.
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
  fail=$((fail + 1))
  echo "not ok - $1"
  shift
  (($#)) && printf '%s\n' "$@" | sed 's/^/    /'
}
report_summary() {
  echo
  echo "$pass passed, $fail failed"
  ((fail == 0))
}
