"""The TCP_CHECK configuration the memory and reload benchmarks share (memory-reload.sh,
memory-heaptrack.sh, check-config-peak.sh, reload-arenas.py): VS virtual servers 10.x.y.1:80 with
RS real servers each, numbered across the file.

Real servers are 127.x.y.z port 9 (nothing listens: connect is refused at once), except those in
`listening` ((virtual server, real server) -> port): `listening_host` (127.0.0.1) at that port, so they stay up and a
change of their weight is an IPVS operation. `weights` ((virtual server, real server) -> weight)
overrides weight 1. warmup 0: every checker probes at start.
"""


def write_config(path, vs, rs, delay, weights=None, listening=None, listening_host="127.0.0.1"):
    weights = weights or {}
    listening = listening or {}
    with open(path, "w") as f:
        f.write("global_defs {\n    router_id bench\n}\n")
        n = 0
        for v in range(vs):
            f.write(f"virtual_server 10.{v // 250}.{v % 250}.1 80 {{\n    delay_loop {delay}\n"
                    "    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n")
            for r in range(rs):
                a, b, c = 1 + n // 62500, (n // 250) % 250, n % 250 + 1
                n += 1
                address = f"{listening_host} {listening[(v, r)]}" if (v, r) in listening else f"127.{a}.{b}.{c} 9"
                f.write(f"    real_server {address} {{\n        weight {weights.get((v, r), 1)}\n"
                        "        TCP_CHECK {\n            connect_timeout 3\n            warmup 0\n        }\n    }\n")
            f.write("}\n")


if __name__ == "__main__":
    # python3 bench/benchconfig.py PATH VS RS DELAY
    import sys
    write_config(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
