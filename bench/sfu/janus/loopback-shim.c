/*
 * LD_PRELOAD shim for the benchmark's Janus: Janus (src/ice.c) skips loopback interfaces when it
 * gathers ICE candidates, and the benchmark must stay on loopback. This getifaddrs() wrapper
 * presents IPv4 loopback addresses as an ordinary interface and every other address as down, so
 * Janus offers 127.0.0.1 and nothing else (the configuration also enforces 127.0.0.1).
 * Compiled by bench/sfu/targets/janus.ts into a temporary directory at bench time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*getifaddrs_fn)(struct ifaddrs **);

int getifaddrs(struct ifaddrs **list) {
  static getifaddrs_fn real_getifaddrs = NULL;
  if (real_getifaddrs == NULL) real_getifaddrs = (getifaddrs_fn)dlsym(RTLD_NEXT, "getifaddrs");
  if (real_getifaddrs == NULL) return -1;
  int rc = real_getifaddrs(list);
  if (rc != 0) return rc;
  /* The list is one allocation freed by freeifaddrs(): change flags, never unlink entries. */
  for (struct ifaddrs *entry = *list; entry != NULL; entry = entry->ifa_next) {
    int ipv4 = entry->ifa_addr != NULL && entry->ifa_addr->sa_family == AF_INET;
    if (ipv4 && (entry->ifa_flags & IFF_LOOPBACK)) {
      entry->ifa_flags &= ~IFF_LOOPBACK;
    } else {
      entry->ifa_flags &= ~(IFF_UP | IFF_RUNNING);
    }
  }
  return 0;
}
