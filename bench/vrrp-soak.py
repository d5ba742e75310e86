#!/usr/bin/env python3
"""False-failover soak: lvskeeper pairs and keepalived pairs at VRRPv3 0.01 s adverts, side by
side in their own namespaces, for a fixed time while CPU burners keep both cores busy. Each
implementation runs twice: with default scheduling, and with `vrrp_rt_priority 50` (lvskeeper:
the VRRP thread under SCHED_RR; keepalived: its VRRP process).

A false failover is the backup (priority 100) taking the VIP while the master (150) is alive.
Every 0.2 s the soak samples which nodes hold the VIP and counts the samples where the backup
does; it also counts the backup's transitions to MASTER in each implementation's own log.
Usage: vrrp-soak.py HARNESS SECONDS
"""
import json, os, signal, subprocess, sys, time

HARNESS, SECONDS = sys.argv[1], float(sys.argv[2])
TMP = f"/tmp/lvsksoak-{os.getpid()}"
os.makedirs(TMP, exist_ok=True)
PAIRS = {"lvskeeper": ("lvsksoak-l", "10.89.0"), "keepalived": ("lvsksoak-k", "10.89.1"),
         "lvskeeper rt50": ("lvsksoak-lr", "10.89.2"), "keepalived rt50": ("lvsksoak-kr", "10.89.3")}
RT_PRIORITY = 50


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True).stdout


def teardown():
    for prefix, _ in PAIRS.values():
        for n in ["a", "b", "br"]:
            sh(f"ip netns pids {prefix}-{n} 2>/dev/null | xargs -r kill -9; ip netns del {prefix}-{n} 2>/dev/null",
               check=False)


def setup(prefix, net):
    sh(f"ip netns add {prefix}-br; ip -n {prefix}-br link add br0 type bridge; ip -n {prefix}-br link set br0 up")
    for i, n in enumerate(["a", "b"], 1):
        sh(f"ip netns add {prefix}-{n}; ip link add veth0 netns {prefix}-{n} type veth peer name p{n} netns {prefix}-br")
        sh(f"ip -n {prefix}-br link set p{n} master br0 up; ip -n {prefix}-{n} link set lo up")
        sh(f"ip -n {prefix}-{n} addr add {net}.{i}/24 dev veth0; ip -n {prefix}-{n} link set veth0 up")


def start(impl, prefix, net, node, priority):
    vip = f"{net}.100"
    realtime = impl.endswith("rt50")
    log = open(f"{TMP}/{prefix}-{node}.log", "w")
    if impl.startswith("lvskeeper"):
        spec = {"instances": [{"name": "VI_1", "interface": "veth0", "vrid": 91, "version": 3,
                               "priority": priority, "advertInterval": 0.01,
                               "virtualAddresses": [{"address": vip}], "garpMasterDelay": 5}]}
        if realtime:
            spec["scheduling"] = {"realtimePriority": RT_PRIORITY}
        path = f"{TMP}/{prefix}-{node}.json"
        json.dump(spec, open(path, "w"))
        return subprocess.Popen(["ip", "netns", "exec", f"{prefix}-{node}", HARNESS, path], stdout=log, stderr=log)
    conf = f"""global_defs {{
  router_id soak_{node}
{f"  vrrp_rt_priority {RT_PRIORITY}" if realtime else ""}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface veth0
  virtual_router_id 91
  priority {priority}
  advert_int 0.01
  version 3
  virtual_ipaddress {{
    {vip}
  }}
}}
"""
    path = f"{TMP}/{prefix}-{node}.conf"
    open(path, "w").write(conf)
    return subprocess.Popen(["ip", "netns", "exec", f"{prefix}-{node}", "/usr/sbin/keepalived", "-n", "-l", "-D",
                             "--vrrp", "-f", path, "-p", f"{TMP}/{prefix}-{node}.pid",
                             "-r", f"{TMP}/{prefix}-{node}.vrrp.pid"],
                            stdout=log, stderr=log)


def holds(prefix, net, node):
    return f" {net}.100/" in sh(f"ip -n {prefix}-{node} -o addr show dev veth0", check=False)


def masters_in_log(impl, node):
    text = open(f"{TMP}/{PAIRS[impl][0]}-{node}.log", errors="replace").read()
    if impl.startswith("lvskeeper"):
        # STATE <instance> <from> <to> <priority> <time>
        return sum(1 for line in text.splitlines() if line.startswith("STATE") and line.split()[3:4] == ["MASTER"])
    return text.count("Entering MASTER STATE")


def main():
    teardown()
    procs = []
    burners = []
    try:
        for impl, (prefix, net) in PAIRS.items():
            setup(prefix, net)
            procs.append(start(impl, prefix, net, "a", 150))
        time.sleep(1)
        for impl, (prefix, net) in PAIRS.items():
            procs.append(start(impl, prefix, net, "b", 100))
        deadline = time.time() + 30
        while time.time() < deadline and not all(
                holds(p, n, "a") and not holds(p, n, "b") for p, n in PAIRS.values()):
            time.sleep(0.1)
        time.sleep(2)
        baseline = {impl: masters_in_log(impl, "b") for impl in PAIRS}
        # Both cores busy for the whole soak, bounded by timeout(1).
        # Each burner leads its own process group so the whole group can be killed at the end (killing
        # only timeout(1) with SIGKILL would leave its shell spinning).
        for _ in range(2):
            burners.append(subprocess.Popen(["timeout", str(int(SECONDS) + 5), "sh", "-c", "while :; do :; done"],
                                            start_new_session=True))
        samples = {impl: 0 for impl in PAIRS}
        stolen = {impl: 0 for impl in PAIRS}
        end = time.time() + SECONDS
        while time.time() < end:
            for impl, (prefix, net) in PAIRS.items():
                samples[impl] += 1
                if holds(prefix, net, "b"):
                    stolen[impl] += 1
            time.sleep(0.2)
        load = open("/proc/loadavg").read().split()[:3]
        print(f"soak: VRRPv3 advert 0.01 s, {SECONDS:.0f} s, 2 CPU burners, load average at end {' '.join(load)}")
        for impl in PAIRS:
            flips = masters_in_log(impl, "b") - baseline[impl]
            print(f"{impl:15s}: backup became MASTER {flips} time(s); backup held the VIP in "
                  f"{stolen[impl]} of {samples[impl]} samples")
    finally:
        for p in burners:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        teardown()


if __name__ == "__main__":
    main()
