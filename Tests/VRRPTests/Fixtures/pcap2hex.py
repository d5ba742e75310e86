import struct,sys,socket
# Prints "src dst ttl hexpayload" for each VRRP packet (IPv4 proto 112, IPv6 nh 112) of an Ethernet pcap.
# For IPv4 proto 51 (keepalived auth_type AH) the hex is the whole IPv4 packet, since the AH ICV covers
# the IP header. Needs a classic pcap (tshark -F pcap).
d=open(sys.argv[1],'rb').read()
off=24
seen=set()
while off+16<=len(d):
    ts,tu,incl,orig=struct.unpack('<IIII',d[off:off+16]); off+=16
    f=d[off:off+incl]; off+=incl
    eth=struct.unpack('!H',f[12:14])[0]; p=f[14:]
    if eth==0x0800 and p[9]==112:
        ihl=(p[0]&15)*4; tot=struct.unpack('!H',p[2:4])[0]
        line="%s %s %d %s"%(socket.inet_ntop(socket.AF_INET,p[12:16]),socket.inet_ntop(socket.AF_INET,p[16:20]),p[8],p[ihl:tot].hex())
    elif eth==0x0800 and p[9]==51:
        tot=struct.unpack('!H',p[2:4])[0]
        line="%s %s %d %s"%(socket.inet_ntop(socket.AF_INET,p[12:16]),socket.inet_ntop(socket.AF_INET,p[16:20]),p[8],p[:tot].hex())
    elif eth==0x86dd and p[6]==112:
        plen=struct.unpack('!H',p[4:6])[0]
        line="%s %s %d %s"%(socket.inet_ntop(socket.AF_INET6,p[8:24]),socket.inet_ntop(socket.AF_INET6,p[24:40]),p[7],p[40:40+plen].hex())
    else: continue
    if line not in seen:
        seen.add(line); print(line)
