#ifndef LVSKEEPER_CNETLINK_SHIM_H
#define LVSKEEPER_CNETLINK_SHIM_H
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <linux/ip_vs.h>
#endif
