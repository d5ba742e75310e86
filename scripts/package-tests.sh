#!/usr/bin/env bash
# Tests the Debian package end to end: builds it with scripts/package (release, static Swift
# stdlib; the build directory .build-release is reused), checks its metadata and contents, runs
# lintian (no errors allowed), `systemd-analyze verify` on the installed unit, renders both man
# pages (man -l, groff -ww, mandoc -Tlint), exercises the bash completion, then installs it with
# `dpkg -i` into a clean Debian chroot (mmdebstrap minbase plus the package's Depends, cached
# under /var/cache/lvskeeper-vm/package-root), runs `lvskeeper --version` and `check-config` of
# the shipped conffile there, and removes and purges it.
#
# usage: scripts/package-tests.sh [--deb FILE]   (--deb: test this package instead of building one)
# Last line: "N passed, M failed". Exit status 0 only if nothing failed.
set -uo pipefail
umask 022
root_dir="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root_dir"

deb=""
while (($#)); do
  case "$1" in
    --deb) deb="${2:?--deb needs a file}"; shift 2 ;;
    *) echo "package-tests: unknown argument: $1" >&2; exit 2 ;;
  esac
done

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command exits 0
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit
}

work="$(mktemp -d "/tmp/lvskeeper-package-tests.$$.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- build ---------------------------------------------------------------------------------------
if [[ -z $deb ]]; then
  if deb="$(scripts/package --output "$work/out" 2> >(tail -n 30 >&2) | tail -n1)" && [[ -f $deb ]]; then
    ok "scripts/package built $(basename "$deb")"
  else
    fail "scripts/package --output $work/out"; finish
  fi
fi
field() { dpkg-deb -f "$deb" "$1"; }
version="$(field Version)"
upstream_base="$(head -n1 VERSION | tr -d '[:space:]')"

# --- metadata ------------------------------------------------------------------------------------
[[ $(basename "$deb") == "lvskeeper_${version}_$(dpkg --print-architecture).deb" ]] &&
  ok "file name lvskeeper_VERSION_ARCH.deb" || fail "file name $(basename "$deb") does not match version $version"
[[ $version == "$upstream_base"* ]] && ok "version $version starts with VERSION's $upstream_base" ||
  fail "version $version does not start with $upstream_base"
depends="$(field Depends)"
echo "  Depends: $depends"
for lib in libc6 libnl-3-200 libnl-genl-3-200 libssl3; do
  [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] && ok "Depends names $lib" ||
    fail "Depends lacks $lib"
done
if [[ $depends == *swift* || $depends == *icu* ]]; then fail "Depends names a Swift or ICU package"; else
  ok "Depends names no Swift runtime or ICU"; fi
[[ $(field Recommends) == *ipvsadm* ]] && ok "Recommends ipvsadm" || fail "Recommends lacks ipvsadm"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$work/conffiles" 2>/dev/null
diff <(sort "$work/conffiles") <(printf '%s\n' /etc/lvskeeper/lvskeeper.conf /etc/modules-load.d/lvskeeper.conf) >/dev/null &&
  ok "conffiles: /etc/lvskeeper/lvskeeper.conf, /etc/modules-load.d/lvskeeper.conf" || fail "conffiles: $(cat "$work/conffiles")"

# --- contents ------------------------------------------------------------------------------------
dpkg-deb -c "$deb" >"$work/contents"
expect_file() { # expect_file MODE OWNER PATH
  if grep -qE "^$1 $2 .* \./${3#/}\$" "$work/contents"; then ok "contains $3 ($1 $2)"; else
    fail "$3 missing or not $1 $2: $(grep -F "./${3#/}" "$work/contents" || echo absent)"; fi
}
expect_file -rwxr-xr-x root/root /usr/sbin/lvskeeper
expect_file -rw-r--r-- root/root /usr/lib/systemd/system/lvskeeper.service
expect_file -rw-r--r-- root/root /etc/lvskeeper/lvskeeper.conf
expect_file -rw-r--r-- root/root /etc/modules-load.d/lvskeeper.conf
expect_file -rw-r--r-- root/root /usr/share/man/man8/lvskeeper.8.gz
expect_file -rw-r--r-- root/root /usr/share/man/man5/lvskeeper.conf.5.gz
expect_file -rw-r--r-- root/root /usr/share/bash-completion/completions/lvskeeper
expect_file -rw-r--r-- root/root /usr/share/doc/lvskeeper/copyright
expect_file -rw-r--r-- root/root /usr/share/doc/lvskeeper/changelog.Debian.gz
expect_file -rw-r--r-- root/root /usr/share/doc/lvskeeper/README.md

extract="$work/extract"
dpkg-deb -x "$deb" "$extract"
if ldd "$extract/usr/sbin/lvskeeper" >"$work/ldd" 2>&1 && ! grep -Eiq 'libswift|libFoundation|libicu|libdispatch|not found' "$work/ldd"; then
  ok "the binary needs no Swift runtime, Foundation or ICU: $(awk '{print $1}' "$work/ldd" | tr '\n' ' ')"
else
  fail "ldd: $(cat "$work/ldd")"
fi
grep -qx 'ip_vs' "$extract/etc/modules-load.d/lvskeeper.conf" && ok "modules-load.d names ip_vs" ||
  fail "modules-load.d lacks ip_vs"
diff -q systemd/lvskeeper.service "$extract/usr/lib/systemd/system/lvskeeper.service" >/dev/null &&
  ok "the unit is systemd/lvskeeper.service" || fail "the packaged unit differs from systemd/lvskeeper.service"

# --- lintian -------------------------------------------------------------------------------------
if command -v lintian >/dev/null; then
  lintian --fail-on error --display-info "$deb" >"$work/lintian" 2>&1
  status=$?
  sed 's/^/  lintian: /' "$work/lintian"
  if ((status == 0)) && ! grep -q '^E:' "$work/lintian"; then ok "lintian: no errors"; else fail "lintian: errors (above)"; fi
else
  fail "lintian not installed (scripts/setup-deps)"
fi

# --- man pages -----------------------------------------------------------------------------------
for page in usr/share/man/man8/lvskeeper.8.gz usr/share/man/man5/lvskeeper.conf.5.gz; do
  name="$(basename "$page" .gz)"
  if MANWIDTH=80 man -l "$extract/$page" >"$work/$name.txt" 2>"$work/$name.err" && [[ ! -s $work/$name.err ]] &&
    [[ $(wc -l <"$work/$name.txt") -gt 50 ]]; then
    ok "man -l $name renders ($(wc -l <"$work/$name.txt") lines at MANWIDTH=80, nothing on stderr)"
  else
    fail "man -l $name: $(head -c 2000 "$work/$name.err")"
  fi
  gzip -dc "$extract/$page" >"$work/$name"
  if groff -man -ww -z "$work/$name" 2>"$work/$name.groff" && [[ ! -s $work/$name.groff ]]; then
    ok "groff -ww -z $name: no warnings"
  else
    fail "groff -ww $name: $(head -c 2000 "$work/$name.groff")"
  fi
  if command -v mandoc >/dev/null; then
    mandoc -Tlint -W warning "$work/$name" >"$work/$name.mandoc" 2>&1
    [[ ! -s $work/$name.mandoc ]] && ok "mandoc -Tlint -W warning $name: clean" ||
      fail "mandoc -Tlint $name: $(head -c 2000 "$work/$name.mandoc")"
  fi
done
# The pages come from README (scripts/gen-man): the reference's headings and keywords are in them.
grep -q 'GLOBAL_DEFS' "$work/lvskeeper.conf.5.txt" && grep -q 'vrrp_garp_master_delay' "$work/lvskeeper.conf.5.txt" &&
  ok "lvskeeper.conf(5) holds README's configuration reference" || fail "lvskeeper.conf(5) lacks README's reference"
for heading in SYNOPSIS OPTIONS FILES 'EXIT STATUS' 'SIGNALS AND CONTROL'; do
  grep -q "^$heading" "$work/lvskeeper.8.txt" && ok "lvskeeper(8) has $heading" || fail "lvskeeper(8) lacks $heading"
done

# Every command and option the binary has is in README's synopsis and Options table, so the man
# page (generated from README) documents the program that is packaged.
readme_options="$(sed -n '/^### Options$/,/^### Files$/p' README.md)"
readme_synopsis="$(sed -n '/^## Command line$/,/^### Options$/p' README.md)"
undocumented=()
tick='`'
commands="$("$extract/usr/sbin/lvskeeper" --help | sed -n '/^SUBCOMMANDS:/,/^$/p' | awk '/^  [a-z]/ {print $1}')"
for command in $commands; do
  grep -q "lvskeeper .*$command" <<<"$readme_synopsis" || undocumented+=("command $command")
  for option in $("$extract/usr/sbin/lvskeeper" "$command" --help | sed -n '/^OPTIONS:/,$p' | grep -oE '(^|[ ,])--[a-z][a-z-]*' | tr -d ' ,' | sort -u); do
    grep -qE -- "${tick}${option}( |${tick})" <<<"$readme_options" || undocumented+=("$command $option")
  done
done
[[ -n $commands ]] && ((${#undocumented[@]} == 0)) && ok "README (so lvskeeper(8)) documents every command and option: $(echo $commands)" ||
  fail "README's Command line section lacks: ${undocumented[*]:-the command list}"

# --- bash completion -----------------------------------------------------------------------------
complete_words() { # complete_words WORD...: what the packaged completion offers for the last word
  bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _lvskeeper lvskeeper "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$extract/usr/share/bash-completion/completions/lvskeeper" "$@" 2>&1
}
PATH="$extract/usr/sbin:$PATH" complete_words lvskeeper st >"$work/complete1"
grep -qx status "$work/complete1" && grep -qx stop "$work/complete1" &&
  ok "bash completion: 'lvskeeper st' offers status and stop" || fail "bash completion of 'lvskeeper st': $(tr '\n' ' ' <"$work/complete1")"
PATH="$extract/usr/sbin:$PATH" complete_words lvskeeper check-config --con >"$work/complete2"
grep -qx -- --config "$work/complete2" && grep -qx -- --config-id "$work/complete2" &&
  ok "bash completion: 'lvskeeper check-config --con' offers --config and --config-id" ||
  fail "bash completion of 'check-config --con': $(tr '\n' ' ' <"$work/complete2")"

# --- a clean Debian tree -------------------------------------------------------------------------
# Two cached trees: "bare" is minbase plus exactly the package's Depends, so dpkg -i proves they are
# satisfiable and running the binary proves they are enough; "systemd" adds systemd, so that
# `systemd-analyze verify --root` finds the targets the unit names.
cache=/var/cache/lvskeeper-vm/package-root
suite="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
dep_packages="$(echo "$depends" | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/ //g' | grep . | LC_ALL=C sort -u | tr '\n' ',' | sed 's/,$//')"
mkdir -p "$cache"
tree_tarball() { # tree_tarball NAME PACKAGES: prints the cached tarball, building it if missing
  local key tarball
  key="$(echo "$suite $2" | sha256sum | cut -c1-16)"
  tarball="$cache/$suite-minbase-$1-$key.tar"
  (
    flock 9
    if [[ ! -s $tarball ]]; then
      echo "  building the clean tree: mmdebstrap --variant=minbase $suite + $2 (cached in $tarball)" >&2
      local partial="${tarball%.tar}.partial$$.tar"
      mmdebstrap --quiet --variant=minbase --format=tar --include="$2" "$suite" "$partial" \
        >"$work/mmdebstrap-$1.log" 2>&1 || { tail -n 20 "$work/mmdebstrap-$1.log" >&2; rm -f "$partial"; exit 1; }
      mv "$partial" "$tarball"
    fi
  ) 9>"$cache/.lock"
  [[ -s $tarball ]] && echo "$tarball"
}
in_root() { # in_root DIR COMMAND...: runs a command chrooted in DIR with /proc mounted privately
  unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$@"
}
new_root() { # new_root TARBALL: prints a fresh tree unpacked from TARBALL with the package copied in
  local dir
  dir="$(mktemp -d "/tmp/lvskeeper-package-root.$$.XXXXXX")"
  tar -C "$dir" -xf "$1" && cp "$deb" "$dir/tmp/lvskeeper.deb" && echo "$dir"
}
trap 'rm -rf --one-file-system /tmp/lvskeeper-package-root.$$.* "$work"' EXIT

if bare="$(tree_tarball bare "$dep_packages")"; then ok "clean $suite minbase tree with the Depends only ($dep_packages)"; else
  fail "mmdebstrap of the clean tree failed"; finish; fi
root="$(new_root "$bare")" || { fail "unpacking $bare"; finish; }
if in_root "$root" dpkg -i /tmp/lvskeeper.deb >"$work/dpkg-i" 2>&1; then
  ok "dpkg -i into the clean tree (every Depends satisfied)"
else
  sed 's/^/  dpkg: /' "$work/dpkg-i"; fail "dpkg -i into the clean tree"; finish
fi
out="$(in_root "$root" /usr/sbin/lvskeeper --version 2>&1)"
[[ $out == "$upstream_base" ]] && ok "lvskeeper --version in the clean tree: $out" || fail "lvskeeper --version in the clean tree: $out"
out="$(in_root "$root" /usr/sbin/lvskeeper check-config 2>&1)"
status=$?
((status == 0)) && [[ $out != *"warning:"* ]] && ok "lvskeeper check-config of the shipped /etc/lvskeeper/lvskeeper.conf: $out" ||
  fail "check-config of the shipped conffile (status $status): $out"
out="$(in_root "$root" /usr/sbin/lvskeeper -t -f /etc/lvskeeper/lvskeeper.conf 2>&1)"
(($? == 0)) && ok "keepalived-style 'lvskeeper -t -f' in the clean tree" || fail "lvskeeper -t -f: $out"
[[ -L $root/etc/systemd/system/multi-user.target.wants/lvskeeper.service ]] &&
  ok "postinst enabled the unit (multi-user.target.wants symlink)" || fail "the unit was not enabled by postinst"
# The packaged daemon runs there too (dry run: no IPVS; the shipped file has no VRRP instance):
# it answers status on its control socket and stops cleanly on `lvskeeper stop`.
in_root "$root" /usr/sbin/lvskeeper run --dry-run >"$work/run.log" 2>&1 &
daemon=$!
for _ in $(seq 1 150); do # up to 30 s for a start on a loaded host
  in_root "$root" /usr/sbin/lvskeeper status >"$work/status" 2>&1 && break
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.2
done
if in_root "$root" /usr/sbin/lvskeeper status >"$work/status" 2>&1; then
  ok "the packaged daemon runs in the clean tree and answers status ($(head -n1 "$work/status"))"
else
  fail "lvskeeper run --dry-run in the clean tree: $(cat "$work/status" "$work/run.log")"
fi
in_root "$root" /usr/sbin/lvskeeper stop >/dev/null 2>&1 || kill -TERM "$daemon" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.2; done
kill -0 "$daemon" 2>/dev/null && { echo "  the daemon did not exit within 30 s of stop: SIGKILL"; kill -KILL "$daemon"; }
wait "$daemon"
status=$?
((status == 0)) && ok "lvskeeper stop: the daemon exits 0" || fail "the daemon exited $status: $(tail -n 5 "$work/run.log")"
# Reinstalling runs the upgrade branch of the maintainer scripts (postinst configure with the old
# version); an edited conffile survives it, and the unit stays enabled.
echo '! edited by the operator' >>"$root/etc/lvskeeper/lvskeeper.conf"
in_root "$root" dpkg -i --force-confold /tmp/lvskeeper.deb >"$work/dpkg-i-again" 2>&1 &&
  grep -qx '! edited by the operator' "$root/etc/lvskeeper/lvskeeper.conf" &&
  [[ -L $root/etc/systemd/system/multi-user.target.wants/lvskeeper.service ]] &&
  ok "dpkg -i over the installed package (upgrade path) keeps the edited conffile and the enablement" ||
  fail "reinstall: $(cat "$work/dpkg-i-again")"
in_root "$root" dpkg -r lvskeeper >"$work/dpkg-r" 2>&1 &&
  [[ ! -e $root/usr/sbin/lvskeeper && -f $root/etc/lvskeeper/lvskeeper.conf ]] &&
  ok "dpkg -r removes the binary and keeps the conffile" || fail "dpkg -r: $(cat "$work/dpkg-r")"
in_root "$root" dpkg --purge lvskeeper >"$work/dpkg-purge" 2>&1 && [[ ! -e $root/etc/lvskeeper/lvskeeper.conf ]] &&
  [[ ! -e $root/etc/systemd/system/multi-user.target.wants/lvskeeper.service ]] &&
  [[ ! -e $root/etc/systemd/system/lvskeeper.service ]] &&
  ok "dpkg --purge removes the conffiles, the enablement and the mask" || fail "dpkg --purge: $(cat "$work/dpkg-purge")"

if with_systemd="$(tree_tarball systemd "$dep_packages,systemd")"; then
  root="$(new_root "$with_systemd")" || { fail "unpacking $with_systemd"; finish; }
  if in_root "$root" dpkg -i /tmp/lvskeeper.deb >"$work/dpkg-i2" 2>&1; then
    # --root resolves ExecStart=, ExecReload='s /bin/kill and the targets inside the tree.
    if systemd-analyze verify --root="$root" lvskeeper.service >"$work/verify" 2>&1 && [[ ! -s $work/verify ]]; then
      ok "systemd-analyze verify accepts the installed unit (tree with systemd)"
    else
      sed 's/^/  systemd-analyze: /' "$work/verify"; fail "systemd-analyze verify of the installed unit"
    fi
  else
    sed 's/^/  dpkg: /' "$work/dpkg-i2"; fail "dpkg -i into the tree with systemd"
  fi
else
  fail "mmdebstrap of the tree with systemd failed"
fi

finish
