#!/usr/bin/env python3
"""Prints COUNT (default 1) distinct loopback ports that are free now, one per line.

They come from just below the kernel's ephemeral range (net.ipv4.ip_local_port_range), which the kernel
never hands to a client connection or to a listener on port 0 by itself, so a server started on one
next cannot lose it to a connection made meanwhile, as a port picked by binding port 0 can. The tests'
own servers take theirs from the same span (Tests/TallyTestSupport/LoopbackPorts.swift).

    scripts/free-port.py [COUNT]
"""
import random
import socket
import sys

SPAN = 8000


def free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        low = int(ranges.read().split()[0])
    candidates = list(range(max(1024, low - SPAN), low))
    random.shuffle(candidates)
    ports = [port for port in candidates[:count * 20] if free(port)][:count]
    if len(ports) < count:
        sys.exit(f"free-port.py: fewer than {count} free loopback ports below {low}; stop some servers and try again.")
    print("\n".join(map(str, ports)))


main()
