#!/usr/bin/env python3
# Where a reload's memory stays: RSS of the daemon's anonymous mappings (glibc's malloc arenas and the
# heap) after start and after each of 3 reloads that change one weight, on the 2,277 x 36,432
# TCP_CHECK config of bench/memory-reload.sh part 2 (`run --dry-run`, refused 127.0.0.0/8 ports).
# Usage: python3 bench/reload-arenas.py <release lvskeeper>
# Build: swift build -c release --scratch-path .build-release --product lvskeeper
import os, re, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchconfig  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else ".build-release/release/lvskeeper"
work = tempfile.mkdtemp(prefix="reload-arenas.")
conf = os.path.join(work, "big.conf")


def write_config(weight):
    # The weight of the first real server of virtual server 37 changes from reload to reload.
    benchconfig.write_config(conf, 2277, 16, 300, weights={(37, 0): weight})


def anonymous_mappings(pid):
    out, current = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = parts[5] if len(parts) > 5 else ""
                current = None if name.startswith("/") else f"{parts[0].split('-')[0]} {name or 'anon'}"
            elif parts[0] == "Rss:" and current:
                out[current] = out.get(current, 0) + int(parts[1])
    return out


write_config(1)
sock = os.path.join(work, "control.sock")
daemon = subprocess.Popen(
    [binary, "run", "--dry-run", "--config", conf, "--control-socket", sock, "--pid-file", sock + ".pid",
     "--log-level", "notice"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
control = lambda command: subprocess.run([binary, command, "--control-socket", sock], capture_output=True)
try:
    for _ in range(240):
        if control("status").returncode == 0:
            break
        time.sleep(0.5)
    time.sleep(25)  # every checker's first verdict is in and the start's reconcile done
    snapshots = [("start", anonymous_mappings(daemon.pid))]
    for i in range(3):
        write_config(3 + i)
        control("reload")
        time.sleep(12)  # past the reload's malloc_trim and one reconcile interval's
        snapshots.append((f"reload {i + 1}", anonymous_mappings(daemon.pid)))
finally:
    daemon.terminate()
    daemon.wait()
    shutil.rmtree(work)
keys = sorted(set().union(*[s for _, s in snapshots]), key=lambda k: -max(s.get(k, 0) for _, s in snapshots))
print("anonymous mapping (MB)".ljust(28), " ".join(n.rjust(9) for n, _ in snapshots))
for key in keys[:12]:
    print(key[:28].ljust(28), " ".join(f"{s.get(key, 0) / 1024:9.1f}" for _, s in snapshots))
print("total anonymous".ljust(28), " ".join(f"{sum(s.values()) / 1024:9.1f}" for _, s in snapshots))
