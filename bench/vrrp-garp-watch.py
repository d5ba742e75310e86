#!/usr/bin/env python3
"""Prints the wall-clock time of the first gratuitous ARP for VIP sent by MAC, then exits.

Run inside the client namespace: vrrp-garp-watch.py VIP MAC TIMEOUT. Prints "READY" once listening.
"""
import socket, sys, time

vip, mac, timeout = socket.inet_aton(sys.argv[1]), bytes.fromhex(sys.argv[2].replace(":", "")), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.settimeout(0.05)
print("READY", flush=True)
deadline = time.time() + timeout
while time.time() < deadline:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    arp = frame[14:]
    # sender hardware address at 8..14, sender protocol address at 14..18
    if len(arp) >= 28 and arp[8:14] == mac and arp[14:18] == vip:
        print("%.6f" % time.time(), flush=True)
        sys.exit(0)
print("TIMEOUT", flush=True)
sys.exit(1)
