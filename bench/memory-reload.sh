#!/bin/sh
# Memory per real server and reload cost at scale, on the host, with `lvskeeper run --dry-run`
# (IPVS operations are logged, not applied; checkers run for real against 127.0.0.0/8 ports that
# refuse, so every probe is a real connect and a real RST).
#  1. RSS (VmRSS) of an idle daemon, once settled, with 1, 1,000 and 10,000 real servers
#     (TCP_CHECK each), and the marginal KB per real server between 1,000 and 10,000.
#  2. The 2,277 virtual_server x 36,432 real_server config (16 each, TCP_CHECK each): RSS after
#     start, then 10 reloads that each change one weight: per reload the daemon's CPU (utime+stime
#     from /proc/PID/stat around `lvskeeper reload`), the IPVS operations it logged, and RSS after.
#  3. check-config's peak RSS on that file (/usr/bin/time -v) beside keepalived -t -f.
#  4. In the IPVS VM (bench/memory-vm.sh), keepalived's checker and lvskeeper's daemon (real IPVS,
#     not --dry-run) on one config of 1, 1,000 and 10,000 real servers, same method for both: the
#     side-by-side marginal RSS per real server, and where the one-server daemon's RSS lives.
# Usage: LVSKEEPER_BIN=<release lvskeeper> sh bench/memory-reload.sh
#        (ONLY_PER_SERVER=1: part 1 only, about two minutes; NO_VM=1: without part 4)
# Build: swift build -c release --scratch-path .build-release --product lvskeeper
set -eu
cd "$(dirname "$0")/.."
BIN=${LVSKEEPER_BIN:-.build-release/release/lvskeeper}
[ -x "$BIN" ] || { echo "no release lvskeeper at $BIN"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
PYTHONPATH=bench python3 - "$BIN" "$WORK" <<'PY'
import os, subprocess, sys, time, re, shutil
binary, work = sys.argv[1], sys.argv[2]
HZ = os.sysconf("SC_CLK_TCK")

from benchconfig import write_config

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ  # utime, stime

def smaps(pid):
    # RSS per mapping: file-backed pages by file name (the binary, the Swift runtime, Foundation,
    # ICU data, libc), anonymous pages as [anon] (malloc heap, thread stacks), largest first.
    totals, name = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                totals[name] = totals.get(name, 0) + int(parts[1])
    return sorted(((kb, n) for n, kb in totals.items() if kb >= 256), reverse=True)

class Daemon:
    def __init__(self, conf, name):
        self.sock = os.path.join(work, name + ".sock")
        self.log = open(os.path.join(work, name + ".log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "run", "--dry-run", "--config", conf, "--control-socket", self.sock,
             "--pid-file", self.sock + ".pid", "--log-level", "notice"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.control("status").returncode == 0:
                return
            if self.proc.poll() is not None:
                raise SystemExit(f"daemon exited {self.proc.returncode}: {open(self.log.name).read()[-2000:]}")
            time.sleep(0.5)
        raise SystemExit("daemon did not answer status within 120 s")

    def control(self, command):
        return subprocess.run([binary, command, "--control-socket", self.sock], capture_output=True, text=True)

    def settled_rss(self, limit=60):
        # Settled: five samples a second apart within 1 % of each other, the first 10 s after the
        # last first verdict (the burst of DOWN events and their reconciles has drained by then).
        time.sleep(10)
        samples = []
        end = time.monotonic() + limit
        while time.monotonic() < end:
            samples.append(rss_kb(self.proc.pid))
            last = samples[-5:]
            if len(last) == 5 and max(last) - min(last) <= max(last) // 100:
                break
            time.sleep(1)
        return samples[-1]

    def wait_down(self, count, limit=180):
        # Every refused server's first verdict is in (its DOWN logged) before anything is measured.
        end = time.monotonic() + limit
        while time.monotonic() < end:
            with open(self.log.name) as f:
                down = sum(1 for line in f if " is DOWN:" in line)
            if down >= count:
                return down
            time.sleep(1)
        return down

    def ipvs_ops(self):
        with open(self.log.name) as f:
            return sum(1 for line in f if "ipvs (dry run, not applied)" in line)

    def stop(self):
        self.control("stop")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

# 1. Memory per real server.
results = {}
for label, vs, rs in (("1", 1, 1), ("1,000", 100, 10), ("10,000", 1000, 10))[: int(os.environ.get("SIZES", 3))]:
    conf = os.path.join(work, f"rs{vs * rs}.conf")
    write_config(conf, vs, rs, 10)
    d = Daemon(conf, f"rs{vs * rs}")
    d.wait_down(vs * rs)
    rss = d.settled_rss()
    breakdown = smaps(d.proc.pid) if vs * rs == 1 else None
    d.stop()
    results[vs * rs] = rss
    print(f"run --dry-run, {label:>6} real servers (TCP_CHECK, delay_loop 10): VmRSS {rss / 1024:.1f} MB")
    if breakdown:
        print("  where the one-server daemon's RSS lives (/proc/PID/smaps, >= 256 kB):")
        for kb, name in breakdown:
            print(f"  {kb:8d} kB  {name}")
marginal = (results.get(10000, 0) - results.get(1000, 0)) / 9000
print(f"marginal RSS per real server, 1,000 -> 10,000: {marginal:.2f} KB")
if os.environ.get("ONLY_PER_SERVER"):
    sys.exit(0)

# 2. Reload at scale. delay_loop 300 keeps probing CPU small against the reload's own cost; the
# idle CPU rate is measured before each reload and reported beside the raw figure.
VS, RS = int(os.environ.get("BIG_VS", 2277)), 16
import socket, threading
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
def accept_and_close():
    while True:
        connection, _ = listener.accept()
        connection.close()
threading.Thread(target=accept_and_close, daemon=True).start()
changed = [(i * 37 % VS, 0) for i in range(1, 11)]  # reload i changes the weight of changed[i-1]
listening = {key: listener.getsockname()[1] for key in changed}
big = os.path.join(work, "big.conf")
write_config(big, VS, RS, 300, listening=listening)
lines = sum(1 for _ in open(big))
print(f"big config: {VS} virtual_server x {RS} real_server = {VS * RS} real servers, {lines} lines")
t0 = time.monotonic()
d = Daemon(big, "big")
start_wall = time.monotonic() - t0
down = d.wait_down(VS * RS - len(changed))
base = d.settled_rss()
print(f"start: {down} real servers DOWN (refused), {len(changed)} UP (listener)")
print(f"start: status answers after {start_wall:.1f} s, daemon CPU {cpu_s(d.proc.pid):.2f} s, VmRSS {base / 1024:.1f} MB")
ops_before = d.ipvs_ops()
for i in range(1, 11):
    write_config(big, VS, RS, 300, weights={changed[k]: 3 + k for k in range(i)}, listening=listening)
    c0, w0 = cpu_s(d.proc.pid), time.monotonic()
    time.sleep(2)
    idle = cpu_s(d.proc.pid) - c0
    c1, w1 = cpu_s(d.proc.pid), time.monotonic()
    out = d.control("reload")
    c2, w2 = cpu_s(d.proc.pid), time.monotonic()
    time.sleep(1)  # log lines of the reload's operations are flushed
    ops = d.ipvs_ops()
    rss = d.settled_rss()
    print(f"reload {i:2}: daemon CPU {c2 - c1:.2f} s (idle rate {idle / 2:.3f} s/s), wall {w2 - w1:.2f} s, "
          f"IPVS ops {ops - ops_before}, VmRSS after {rss / 1024:.1f} MB, "
          f"{'ok' if out.returncode == 0 else 'FAILED ' + out.stderr.strip()}")
    ops_before = ops
status = d.control("status").stdout
d.stop()

# 3. check-config peak RSS beside keepalived -t on the same file.
def peak(argv):
    r = subprocess.run(["/usr/bin/time", "-v"] + argv, capture_output=True, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    e = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr)
    u = re.search(r"User time \(seconds\): (\S+)", r.stderr)
    s = re.search(r"System time \(seconds\): (\S+)", r.stderr)
    return int(m.group(1)) / 1024, float(u.group(1)) + float(s.group(1)), r.returncode
keepalived = shutil.which("keepalived") or "/usr/sbin/keepalived"
for run in range(1, 4):
    rss, cpu, rc = peak([binary, "check-config", "--config", big])
    print(f"lvskeeper check-config run {run}: peak RSS {rss:.1f} MB, cpu {cpu:.2f} s, exit {rc}")
if os.access(keepalived, os.X_OK):
    for run in range(1, 4):
        rss, cpu, rc = peak([keepalived, "-t", "-f", big])
        print(f"keepalived -t -f run {run}: peak RSS {rss:.1f} MB, cpu {cpu:.2f} s, exit {rc}")
else:
    print("keepalived not installed: no side-by-side figure")
PY
if [ -z "${ONLY_PER_SERVER:-}" ] && [ -z "${NO_VM:-}" ] && [ -x vm/run-in-vm.sh ]; then
  LVSKEEPER_BIN="$BIN" bash bench/memory-vm.sh
fi
