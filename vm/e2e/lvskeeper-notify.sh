#!/bin/sh
# The notify script etc/nat-*.conf names: keepalived's arguments (TYPE NAME STATE PRIORITY), logged.
echo "$(date +%T) notify: $*" >>/tmp/notify.log
