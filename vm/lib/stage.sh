# shellcheck shell=bash
# Staging-tree helpers: build a root file system tree on the host, then pack it as a newc cpio.
# Every function takes the staging directory as its first argument. Sourced, not executed.

# Mirrors the host's top-level layout (merged /usr symlinks such as lib -> usr/lib) and makes
# the directories every VM expects.
stage_init_layout() {
  local stage="$1" top target
  mkdir -p "$stage"
  for top in bin sbin lib lib64 lib32 libx32; do
    if [[ -L "/$top" ]]; then
      target="$(readlink "/$top")"
      mkdir -p "$stage/${target#/}"
      ln -sfn "$target" "$stage/$top"
    fi
  done
  mkdir -p "$stage"/{bin,sbin,lib,dev,proc,sys,tmp,run,root,etc,var/tmp,var/log,var/lib,mnt} \
    "$stage"/usr/{bin,sbin,lib} "$stage"/usr/local/{bin,sbin} "$stage/lvsk"
  ln -sfn ../run "$stage/var/run"
  chmod 1777 "$stage/tmp" "$stage/var/tmp"
}

# Copies host file SRC to DEST inside the stage (symlinks dereferenced, mode kept).
stage_copy() {
  local stage="$1" src="$2" dest="$3"
  [[ -e "$src" ]] || vm_die "no such file: $src"
  mkdir -p "$stage$(dirname "$dest")"
  if [[ -d "$src" ]]; then
    mkdir -p "$stage$dest"
    cp -rL --preserve=mode "$src/." "$stage$dest/"
  else
    # Remove first: the destination may be a busybox applet symlink.
    rm -f "$stage$dest"
    cp -L --preserve=mode "$src" "$stage$dest"
  fi
}

# Prints the shared libraries (and the dynamic loader) that host binary $1 needs, one path a line.
# Prints nothing for static binaries; fails if a library cannot be found.
stage_libs_of() {
  local bin="$1" out
  if ! out="$(LC_ALL=C ldd "$bin" 2>&1)"; then
    # ldd fails on static executables and on non-ELF files (scripts): nothing to copy.
    return 0
  fi
  if grep -q 'not found' <<<"$out"; then
    vm_die "$bin: missing shared libraries: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
  fi
  awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$out"
}

# Copies every shared library that host binary $2 needs into the stage, at the same path.
stage_add_libs() {
  local stage="$1" bin="$2" lib
  while IFS= read -r lib; do
    [[ -n "$lib" ]] || continue
    [[ -e "$stage$lib" ]] && continue
    stage_copy "$stage" "$lib" "$lib"
  done < <(stage_libs_of "$bin")
}

# Copies host binary SRC into the stage at DEST (default /usr/local/bin/<name>) with its libraries.
# SRC may also be a bare command name, resolved through PATH (and /usr/sbin, /sbin).
stage_add_bin() {
  local stage="$1" src="$2" dest="${3:-}"
  if [[ "$src" != */* ]]; then
    src="$(PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$src")" ||
      vm_die "binary not found in PATH: $2"
  fi
  [[ -f "$src" ]] || vm_die "no such binary: $src"
  [[ -n "$dest" ]] || dest="/usr/local/bin/$(basename "$src")"
  stage_copy "$stage" "$src" "$dest"
  chmod +x "$stage$dest"
  stage_add_libs "$stage" "$src"
}

# Installs the static busybox at /bin/busybox and links every applet that is not already a file.
stage_add_busybox() {
  local stage="$1" busybox applet
  busybox="$(dpkg -L busybox-static 2>/dev/null | grep -m1 '/busybox$' || true)"
  [[ -n "$busybox" && -x "$busybox" ]] || busybox=/bin/busybox
  LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>' &&
    vm_die "$busybox is dynamically linked; install busybox-static"
  stage_copy "$stage" "$busybox" /bin/busybox
  while IFS= read -r applet; do
    [[ -e "$stage/$applet" || -L "$stage/$applet" ]] && continue
    mkdir -p "$stage/$(dirname "$applet")"
    ln -s /bin/busybox "$stage/$applet"
  done < <("$stage/bin/busybox" --list-full)
}

# Packs the stage as a newc cpio archive (owner root) into OUT.
stage_pack() {
  local stage="$1" out="$2"
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
    cpio --quiet -o -H newc --owner=0:0) >"$out" || vm_die "cpio failed for $stage"
}
