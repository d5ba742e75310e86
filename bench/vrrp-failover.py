#!/usr/bin/env python3
"""Failover time of an lvskeeper pair vs a keepalived pair, same namespaces, same run.

For each setting (VRRPv2 1 s, VRRPv3 0.1 s, VRRPv3 0.01 s), each implementation and each way of
losing the master (kill -9, SIGTERM), N runs: start A (priority 150) and B (100), wait until A is
master and B backup, stop A, and time from the signal to the first gratuitous ARP for the VIP from
B's MAC seen by the client (that is when the VIP answers on the new master). Prints median and max.

A kill -9 lands at a random point of A's advert interval, so "from signal" varies by up to one
interval. The protocol's own promise is about the time from A's last advert to B's takeover
(Master_Down_Interval), so the client also notes the last advert it saw from A, and "after last
advert" is the GARP time minus that: comparable with "bound" to the millisecond.
"""
import json, os, signal, statistics, subprocess, sys, time

HARNESS = sys.argv[1]
RUNS = {k: int(v) for k, v in (a.split("=") for a in sys.argv[2:])} if len(sys.argv) > 2 else {}
P = "lvskbench"
VIP = "10.88.0.100"
HERE = os.path.dirname(os.path.abspath(__file__))
TMP = f"/tmp/{P}-{os.getpid()}"
os.makedirs(TMP, exist_ok=True)


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True).stdout


def teardown():
    for n in ["a", "b", "c", "br"]:
        sh(f"ip netns pids {P}-{n} 2>/dev/null | xargs -r kill -9; ip netns del {P}-{n} 2>/dev/null", check=False)


def setup():
    teardown()
    sh(f"ip netns add {P}-br; ip -n {P}-br link add br0 type bridge; ip -n {P}-br link set br0 up")
    for i, n in enumerate(["a", "b", "c"], 1):
        sh(f"ip netns add {P}-{n}; ip link add veth0 netns {P}-{n} type veth peer name p{n} netns {P}-br")
        sh(f"ip -n {P}-br link set p{n} master br0 up; ip -n {P}-{n} link set lo up")
        sh(f"ip -n {P}-{n} addr add 10.88.0.{i}/24 dev veth0; ip -n {P}-{n} link set veth0 up")


def mac(node):
    return sh(f"ip netns exec {P}-{node} cat /sys/class/net/veth0/address").strip()


def holds(node):
    return f" {VIP}/" in sh(f"ip -n {P}-{node} -o addr show dev veth0")


def start(impl, node, version, interval, priority, tag):
    log = open(f"{TMP}/{tag}.log", "w")
    if impl == "lvskeeper":
        spec = {"instances": [{"name": "VI_1", "interface": "veth0", "vrid": 90, "version": version,
                               "priority": priority, "advertInterval": interval,
                               "virtualAddresses": [{"address": VIP}], "garpMasterDelay": 5}]}
        path = f"{TMP}/{tag}.json"
        json.dump(spec, open(path, "w"))
        argv = ["ip", "netns", "exec", f"{P}-{node}", HARNESS, path]
        return subprocess.Popen(argv, stdout=log, stderr=log), None
    adv = str(int(interval)) if version == 2 else str(interval)
    conf = f"""global_defs {{
  router_id {tag}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface veth0
  virtual_router_id 90
  priority {priority}
  advert_int {adv}
  version {version}
  virtual_ipaddress {{
    {VIP}
  }}
}}
"""
    path = f"{TMP}/{tag}.conf"
    open(path, "w").write(conf)
    # A kill -9 leaves keepalived's pid files behind, and it then refuses to start ("already running").
    for stale in (f"{TMP}/{tag}.pid", f"{TMP}/{tag}.vrrp.pid"):
        if os.path.exists(stale):
            os.remove(stale)
    argv = ["ip", "netns", "exec", f"{P}-{node}", "/usr/sbin/keepalived", "-n", "-l", "-D", "--vrrp", "-f", path,
            "-p", f"{TMP}/{tag}.pid", "-r", f"{TMP}/{tag}.vrrp.pid"]
    return subprocess.Popen(argv, stdout=log, stderr=log), f"{TMP}/{tag}.vrrp.pid"


def wait(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def skip(impl, reason):
    tail = lambda n: "".join(open(f"{TMP}/{n}.log").readlines()[-4:])
    print(f"skipped {impl} run: {reason}\n--- a.log\n{tail('a')}--- b.log\n{tail('b')}", file=sys.stderr, flush=True)
    return None


def one_run(impl, version, interval, how):
    sh(f"ip -n {P}-a addr del {VIP}/32 dev veth0 2>/dev/null; ip -n {P}-b addr del {VIP}/32 dev veth0 2>/dev/null",
       check=False)
    a, a_child = start(impl, "a", version, interval, 150, "a")
    b, b_child = start(impl, "b", version, interval, 100, "b")
    try:
        if not wait(lambda: holds("a") and not holds("b"), 3 * interval + 5):
            return skip(impl, "A never became the only master")
        time.sleep(max(3 * interval, 0.3))  # let B see a few adverts
        if holds("b"):
            return skip(impl, "B held the VIP before the stop (spurious takeover)")
        watch = subprocess.Popen(["ip", "netns", "exec", f"{P}-c", "python3", f"{HERE}/vrrp-garp-watch.py", VIP,
                                  mac("b"), mac("a"), str(5 * interval + 5)], stdout=subprocess.PIPE, text=True)
        watch.stdout.readline()  # READY
        time.sleep(1.5 * interval)  # the client sees at least one of A's adverts before the stop
        sig = signal.SIGKILL if how == "kill-9" else signal.SIGTERM
        if impl == "keepalived" and how == "kill-9":
            # SIGSTOP the parent so it cannot respawn or signal, then kill the VRRP child (the one
            # that sends adverts), then the parent.
            child = int(open(a_child).read().strip())
            os.kill(a.pid, signal.SIGSTOP)
            t0 = time.time()
            os.kill(child, signal.SIGKILL)
            os.kill(a.pid, signal.SIGKILL)
            os.kill(a.pid, signal.SIGCONT)
        else:
            t0 = time.time()
            os.kill(a.pid, sig)
        line = watch.stdout.readline().strip()
        watch.wait()
        if line in ("", "TIMEOUT"):
            return skip(impl, "no gratuitous ARP from B")
        garp, last = line.split()
        return float(garp) - t0, (float(garp) - float(last)) if last != "-" else None
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        for n in ("a", "b"):
            sh(f"ip netns pids {P}-{n} | xargs -r kill -9", check=False)
        time.sleep(0.1)


def main():
    setup()
    settings = [(2, 1.0), (3, 0.1), (3, 0.01)]
    print(f"# vrrp failover: time from signal to first GARP for the VIP from the new master")
    print(f"# host: {os.uname().release}, {os.cpu_count()} cpus; keepalived: "
          + sh("/usr/sbin/keepalived --version 2>&1 | head -1").strip())
    print(f"{'':<14} {'':<11} {'':<8} {'':>4} {'':>3} {'from signal':>20} {'after last advert':>20}")
    print(f"{'setting':<14} {'impl':<11} {'stop':<8} {'runs':>4} {'ok':>3} {'median ms':>10} {'max ms':>9} "
          f"{'median ms':>10} {'max ms':>9} {'bound ms':>9}")
    try:
        for version, interval in settings:
            n = RUNS.get(f"v{version}-{interval}", RUNS.get("default", 20))
            # Protocol bound for the backup (priority 100): 3 x interval + skew.
            skew = (156 / 256) if version == 2 else 156 * interval / 256
            bound = (3 * interval + skew) * 1000
            for how in ("kill-9", "sigterm"):
                for impl in ("lvskeeper", "keepalived"):
                    times, after = [], []
                    for _ in range(n):
                        t = one_run(impl, version, interval, how)
                        if t is not None:
                            times.append(t[0] * 1000)
                            if t[1] is not None:
                                after.append(t[1] * 1000)
                    fmt = lambda xs, f: f"{f(xs):.1f}" if xs else "-"
                    label = f"v{version} {interval:g}s"
                    print(f"{label:<14} {impl:<11} {how:<8} {n:>4} {len(times):>3} "
                          f"{fmt(times, statistics.median):>10} {fmt(times, max):>9} "
                          f"{fmt(after, statistics.median):>10} {fmt(after, max):>9} {bound:>9.1f}", flush=True)
    finally:
        teardown()


main()
