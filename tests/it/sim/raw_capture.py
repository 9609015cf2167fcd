"""Prints every Ethernet frame seen on an interface, one hex line each.

Run inside the test's network namespace (`ip netns exec NS python3
raw_capture.py IFACE SECONDS`): an AF_PACKET socket for all protocols,
bound to IFACE, for at most SECONDS. Needs root. Used by the Colorlight
test to see what reaches the card, independently of bangtin's code.
"""
import socket
import sys
import time

ETH_P_ALL = 0x0003

iface, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.bind((iface, 0))
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        frame = s.recv(65536)
    except socket.timeout:
        continue
    print(frame.hex(), flush=True)
