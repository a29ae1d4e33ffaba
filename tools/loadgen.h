/*
 * loadgen: the pieces hearth-bench, hearth-gwload and hearth-ircload share, so the load
 * generators measure and report the same way. Like the tools themselves it links libc and libm only
 * (no Hearth library): a monotonic clock, a seedable PRNG, a constant-memory latency histogram, the
 * strict option-value parsers, the TCP socket both open for their HTTP connections, and the
 * CPU-time readers used to report server and generator cost per request.
 *
 * Nothing here allocates or keeps state; a struct lg_hist belongs to its caller (it is large,
 * ~50 KiB, so it lives inside the caller's run state rather than on the stack).
 */
#ifndef HEARTH_TOOLS_LOADGEN_H
#define HEARTH_TOOLS_LOADGEN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define LG_NS_PER_SEC 1000000000ull

/* ---- time and randomness ---------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t lg_now_ns(void);

/* splitmix64: advances *state and returns the next 64 random bits (not for cryptography). */
uint64_t lg_splitmix64(uint64_t *state);

/* ---- latency histogram ------------------------------------------------------------------ */

/*
 * Values below 2^LG_HIST_SUB_BITS ns are exact; above, each power of two is split into
 * LG_HIST_HALF buckets, so a bucket is at most 1/128 of its value wide. 48 powers reach 2^56 ns
 * (2 years). Memory is constant however many values are recorded. Zero-initialise before use.
 */
#define LG_HIST_SUB_BITS 8
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_HALF (LG_HIST_SUB / 2)
#define LG_HIST_BUCKETS (LG_HIST_SUB + 48 * LG_HIST_HALF)

struct lg_hist {
    uint64_t counts[LG_HIST_BUCKETS];
    uint64_t n;   /* values recorded */
    uint64_t min; /* exact; meaningful when n > 0 */
    uint64_t max; /* exact */
    double sum;   /* for the mean */
};

/* Records one value (ns). */
void lg_hist_record(struct lg_hist *h, uint64_t v);

/* The q-quantile (0 < q <= 1) in ns, clamped to the exact min and max; 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

/* ---- option values ---------------------------------------------------------------------- */

/* A decimal unsigned integer and nothing else (no sign, no spaces): 0, or -1 when invalid. */
int lg_parse_u64(const char *s, uint64_t *out);

/* A non-negative number, as strtod reads it, and nothing else: 0, or -1 when invalid. */
int lg_parse_double(const char *s, double *out);

/* ---- sockets ---------------------------------------------------------------------------- */

/*
 * A non-blocking, close-on-exec TCP socket of the given family with TCP_NODELAY set (requests
 * are small and latency is what is measured). Returns the fd, or -1 with errno set.
 */
int lg_tcp_socket(int family);

/* ---- signals ---------------------------------------------------------------------------- */

/* Set to 1 by SIGINT or SIGTERM once lg_signals_init has run; the run loops poll it. */
extern volatile sig_atomic_t lg_interrupted;

/*
 * Ignores SIGPIPE (a peer closing mid-write shows up as EPIPE instead) and makes SIGINT and
 * SIGTERM set lg_interrupted, so an interrupted run still prints its report.
 */
void lg_signals_init(void);

/* ---- CPU accounting --------------------------------------------------------------------- */

/* utime+stime of a process in seconds, from /proc/PID/stat; -1 when unreadable. */
double lg_proc_cpu_seconds(long pid);

/* This process's user+system CPU time in seconds (getrusage). */
double lg_self_cpu_seconds(void);

/* ---- /proc readings --------------------------------------------------------------------- */

/* VmRSS and VmHWM of a process in KiB, from /proc/PID/status; each -1 when unreadable. */
void lg_proc_memory_kib(long pid, long *rss, long *hwm);

/* How many descriptors a process holds (entries of /proc/PID/fd); -1 when unreadable. */
long lg_proc_fd_count(long pid);

/* ---- many client connections ------------------------------------------------------------ */

/*
 * Raises RLIMIT_NOFILE's soft limit to the hard limit (every client connection is a
 * descriptor) and returns the soft limit now in force.
 */
unsigned long lg_raise_nofile(void);

/*
 * Source addresses for many loopback connections: 28k ephemeral ports per (source,
 * destination) pair, and TIME_WAIT from earlier runs, would otherwise cap and collide.
 * lg_src_base_default draws 127.X.Y.1 (X in 2..253) from the time and pid, so each run uses
 * fresh addresses. lg_src_addr gives connection `index`'s address, host order: `per_addr`
 * connections per address, consecutive addresses from `base`, skipping those whose last
 * byte is 0 or 255. lg_src_bind binds a socket to it with IP_BIND_ADDRESS_NO_PORT (the port
 * is chosen at connect(), per destination); 0 or -1 with errno set.
 */
uint32_t lg_src_base_default(void);
uint32_t lg_src_addr(uint32_t base, int per_addr, int index);
int lg_src_bind(int fd, uint32_t addr);

#endif
