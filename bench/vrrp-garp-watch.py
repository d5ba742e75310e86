#!/usr/bin/env python3
"""Watches the client's link for the failover: prints the wall-clock time of the first gratuitous
ARP for VIP sent by NEW_MAC, and of the last VRRP advert (IP protocol 112, or 51 for AH) that
OLD_MAC sent before it, then exits.

Run inside the client namespace: vrrp-garp-watch.py VIP NEW_MAC OLD_MAC TIMEOUT. Prints "READY" once
listening, then "<garp time> <last advert time or ->" or "TIMEOUT".
"""
import socket, sys, time

vip = socket.inet_aton(sys.argv[1])
new_mac = bytes.fromhex(sys.argv[2].replace(":", ""))
old_mac = bytes.fromhex(sys.argv[3].replace(":", ""))
timeout = float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL
s.settimeout(0.05)
print("READY", flush=True)
deadline = time.time() + timeout
last_advert = None
while time.time() < deadline:
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    now = time.time()
    ethertype = frame[12:14]
    if ethertype == b"\x08\x00" and frame[6:12] == old_mac and len(frame) >= 34 and frame[23] in (112, 51):
        last_advert = now
    elif ethertype == b"\x08\x06":
        arp = frame[14:]
        # sender hardware address at 8..14, sender protocol address at 14..18
        if len(arp) >= 28 and arp[8:14] == new_mac and arp[14:18] == vip:
            print("%.6f %s" % (now, "%.6f" % last_advert if last_advert else "-"), flush=True)
            sys.exit(0)
print("TIMEOUT", flush=True)
sys.exit(1)
