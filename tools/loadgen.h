/*
 * loadgen: the pieces hearth-bench, hearth-gwload and hearth-ircload share, so the load
 * generators measure and report the same way. Like the tools themselves it links libc and libm only
 * (no Hearth library): a monotonic clock, a seedable PRNG, a constant-memory latency histogram, the
 * strict option-value parsers, non-blocking TCP connections with an output queue, the /proc and
 * CPU-time readers used to report server and generator cost, the phase readings and report lines
 * of a ramp-hold-send run, and the bookkeeping of time-stamped fan-out messages.
 *
 * Everything runs on the tool's one thread. Structs (struct lg_hist, lg_conn, lg_marks,
 * lg_fanout) belong to their caller; a struct lg_hist is large (~50 KiB), so it lives inside the
 * caller's run state rather than on the stack. lg_conn keeps its queued output and lg_fanout its
 * per-message tables on the heap: lg_conn_close and the end of the process release them.
 */
#ifndef HEARTH_TOOLS_LOADGEN_H
#define HEARTH_TOOLS_LOADGEN_H

#include <getopt.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LG_NS_PER_SEC 1000000000ull
#define LG_NS_PER_MS 1000000ull

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

/* The q-quantile in milliseconds. */
double lg_hist_ms(const struct lg_hist *h, double q);

/* The largest value recorded, and the mean (0 when empty), in milliseconds. */
double lg_hist_max_ms(const struct lg_hist *h);
double lg_hist_mean_ms(const struct lg_hist *h);

/* ---- option values ---------------------------------------------------------------------- */

/* A decimal unsigned integer and nothing else (no sign, no spaces): 0, or -1 when invalid. */
int lg_parse_u64(const char *s, uint64_t *out);

/* A non-negative number, as strtod reads it, and nothing else: 0, or -1 when invalid. */
int lg_parse_double(const char *s, double *out);

/* A decimal integer in [min, max] (lg_parse_u64's syntax): 0, or -1 when invalid. */
int lg_parse_int(const char *s, uint64_t min, uint64_t max, int *out);

/* A process id (1 .. INT32_MAX): 0, or -1 when invalid. */
int lg_parse_pid(const char *s, long *out);

/* A dotted IPv4 address in 127.0.0.0/8, stored in host order: 0, or -1 when invalid. */
int lg_parse_loopback(const char *s, uint32_t *out);

/*
 * The options every generator takes (--host, --port, --server-pid, --seed, --verbose, --help).
 * A tool lists LG_COMMON_LONGOPTS in its getopt_long table, numbers its own options from
 * LG_OPT_TOOL, and reads them with lg_next_option.
 */
enum {
    LG_OPT_HOST = 1000,
    LG_OPT_PORT,
    LG_OPT_SERVER_PID,
    LG_OPT_SEED,
    LG_OPT_VERBOSE,
    LG_OPT_HELP,
    LG_OPT_SESSIONS, /* the options of struct lg_client_opts */
    LG_OPT_RAMP,
    LG_OPT_INFLIGHT,
    LG_OPT_HOLD,
    LG_OPT_TIMEOUT,
    LG_OPT_RAMP_TIMEOUT,
    LG_OPT_MESSAGES,
    LG_OPT_RATE,
    LG_OPT_CONTENT_SIZE,
    LG_OPT_DRAIN,
    LG_OPT_SRC_BASE,
    LG_OPT_PER_ADDR,
    LG_OPT_TOOL, /* the first of a tool's own options */
};

/* clang-format off */
#define LG_COMMON_LONGOPTS                                          \
    {"host", required_argument, NULL, LG_OPT_HOST},                 \
    {"port", required_argument, NULL, LG_OPT_PORT},                 \
    {"server-pid", required_argument, NULL, LG_OPT_SERVER_PID},     \
    {"seed", required_argument, NULL, LG_OPT_SEED},                 \
    {"verbose", no_argument, NULL, LG_OPT_VERBOSE},                 \
    {"help", no_argument, NULL, LG_OPT_HELP}
/* clang-format on */

struct lg_common_opts {
    const char *host; /* borrowed from argv or a literal */
    const char *port;
    long server_pid; /* 0: none */
    uint64_t seed;
    bool verbose;
};

/* The --help lines the tools share, in the order they print them. */
#define LG_USAGE_SRC                                                                               \
    "  --src-base A       first source address, in 127.0.0.0/8 (default: from the time)\n"         \
    "  --per-addr N       connections per source address (default 1000)\n"
#define LG_USAGE_END                                                                               \
    "  --verbose          print a progress line per second to stderr\n"                            \
    "The last line of output starts with 'result:' and holds key=value pairs.\n"
#define LG_USAGE_TAIL                                                                              \
    "  --server-pid PID   read the server's memory and CPU time from /proc\n"                      \
    "  --seed N           random seed (default: time and pid)\n" LG_USAGE_END

/* Defaults: host 127.0.0.1, the given port, no server pid, a seed from the time and pid. */
void lg_common_defaults(struct lg_common_opts *c, const char *port);

/*
 * The options of a run of many client connections that ramp up, are held, and receive
 * time-stamped messages (hearth-gwload, hearth-ircload): LG_CLIENT_LONGOPTS in the getopt_long
 * table, and a struct lg_client_opts for lg_next_option.
 */
/* clang-format off */
#define LG_CLIENT_LONGOPTS                                          \
    {"sessions", required_argument, NULL, LG_OPT_SESSIONS},         \
    {"ramp", required_argument, NULL, LG_OPT_RAMP},                 \
    {"inflight", required_argument, NULL, LG_OPT_INFLIGHT},         \
    {"hold", required_argument, NULL, LG_OPT_HOLD},                 \
    {"timeout", required_argument, NULL, LG_OPT_TIMEOUT},           \
    {"ramp-timeout", required_argument, NULL, LG_OPT_RAMP_TIMEOUT}, \
    {"messages", required_argument, NULL, LG_OPT_MESSAGES},         \
    {"rate", required_argument, NULL, LG_OPT_RATE},                 \
    {"content-size", required_argument, NULL, LG_OPT_CONTENT_SIZE}, \
    {"drain", required_argument, NULL, LG_OPT_DRAIN},               \
    {"src-base", required_argument, NULL, LG_OPT_SRC_BASE},         \
    {"per-addr", required_argument, NULL, LG_OPT_PER_ADDR}
/* clang-format on */

struct lg_client_opts {
    int sessions;        /* clients to open */
    double ramp;         /* new connections per second; 0 = as fast as --inflight allows */
    int inflight;        /* connections at most between connect and ready */
    double hold;         /* seconds to hold every client after the last became ready */
    double timeout;      /* seconds a connection may take from connect to ready */
    double ramp_timeout; /* seconds after which no new connection is opened; 0 = none */
    int messages;        /* messages to send */
    double rate;         /* messages per second */
    int content_size;    /* message text length */
    double drain;        /* seconds to wait for deliveries after the last message */
    uint32_t src_base;   /* host order; 0 = derive from the time */
    int per_addr;        /* connections per source address */
};

/* The defaults both tools share, with their own --inflight and --timeout. */
void lg_client_defaults(struct lg_client_opts *r, int inflight, double timeout);

/*
 * One step of the ramp, t0 its start: how many connections may have been opened by now
 * (--ramp). Past --ramp-timeout it cuts the ramp once: *not_opened gets the connections not
 * opened yet (reported on stderr, with `inflight` still in flight) and *next jumps to the end.
 */
int lg_ramp_allowed(const struct lg_client_opts *r, uint64_t t0, uint64_t now, int *next,
                    int *not_opened, int inflight);

/*
 * getopt_long over argv for a tool whose options are LG_COMMON_LONGOPTS, LG_CLIENT_LONGOPTS when
 * run is not NULL (--content-size up to content_max), and its own: handles the shared ones and
 * returns the next of the tool's own (optarg holds its value); 0 when all are read, -1 (after a
 * message and usage(stderr) where fitting) on an unknown option, a bad value or an operand.
 */
int lg_next_option(int argc, char **argv, const struct option *longopts, struct lg_common_opts *com,
                   struct lg_client_opts *run, int content_max, void (*usage)(FILE *));

/* Prints "PROG: bad value 'ARG' for an option" and returns -1. */
int lg_bad_value(const char *arg);

/* ---- the tool's name, and fatal errors ---------------------------------------------------- */

/*
 * Names the tool in the messages below, installs the signal handlers (lg_signals_init) and
 * makes stdout line-buffered, so that a reader of a pipe sees each report line as it is printed.
 * Borrows prog (a string literal).
 */
void lg_init(const char *prog);

/* Prints "PROG: WHAT: strerror(errno)" to stderr and exits with status 2. */
void lg_fail(const char *what);

/* realloc that exits with status 2 ("PROG: out of memory") when it fails. */
void *lg_xrealloc(void *p, size_t n);

/* ---- sockets ---------------------------------------------------------------------------- */

/*
 * A non-blocking, close-on-exec TCP socket of the given family with TCP_NODELAY set (requests
 * are small and latency is what is measured). Returns the fd, or -1 with errno set.
 */
int lg_tcp_socket(int family);

/*
 * Writes buf[*off, len) to a non-blocking socket, advancing *off: 0 when all of it is out, 1
 * when the socket is full (wait for EPOLLOUT), -1 with errno set on an error.
 */
int lg_send_pending(int fd, const char *buf, size_t len, size_t *off);

/* The outcome of a non-blocking connect() once epoll reports the fd: 0, or an errno value. */
int lg_connect_error(int fd);

/* epoll_ctl with the event's data set to tag. */
int lg_epoll_set(int epfd, int fd, int op, uint32_t events, uint64_t tag);

/* epoll_wait that exits (lg_fail) on an error other than EINTR: the events ready, >= 0. */
int lg_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms);

/* ---- client connections with an output queue (hearth-gwload, hearth-ircload) --------------- */

/*
 * The part of a client connection the generators share, embedded in each tool's own struct:
 * the socket, its epoll registration and the bytes the socket has not taken yet. Its epoll tag
 * is (index << 32 | gen), index being the connection's place in the tool's table; gen is bumped
 * with every new fd, so an event for an fd that is gone can be told apart. Zero it, then set fd
 * to -1, before use.
 */
struct lg_conn {
    int fd;
    uint32_t gen;
    uint32_t out_len; /* bytes queued in out */
    uint32_t out_off; /* of which written */
    char *out;        /* heap; NULL when nothing is queued */
    uint8_t want_out; /* EPOLLOUT is in the interest set */
};

/* The epoll tag of connection `index` with its current fd. */
uint64_t lg_conn_tag(const struct lg_conn *c, uint32_t index);

/*
 * Opens a socket bound to source address src (host order; see lg_src_bind) and connects it to
 * dst, registered with epfd: 1 when it connected at once (EPOLLIN), 0 when the connect is in
 * progress (EPOLLIN | EPOLLOUT: wait for lg_conn_established), -1 with errno set (the fd, if
 * any, is left for lg_conn_close). Bumps gen first.
 */
int lg_conn_open(struct lg_conn *c, int epfd, uint32_t index, uint32_t src,
                 const struct sockaddr_in *dst);

/*
 * For an epoll event on a connection whose connect is in progress: 1 when it is up (EPOLLOUT is
 * dropped from the interest set), 0 when it is still pending, -1 with errno set when it failed.
 */
int lg_conn_established(struct lg_conn *c, int epfd, uint32_t index, uint32_t events);

/*
 * Writes what is queued; keeps EPOLLOUT asked for while something is left, and frees the queue
 * once it is empty. 0, or -1 with errno set on a write error (the caller ends the connection).
 */
int lg_conn_flush(struct lg_conn *c, int epfd, uint32_t index);

/* Sends data at once, or queues what the socket does not take behind what is waiting
 * (copied). 0, or -1 with errno set on a write error. */
int lg_conn_write(struct lg_conn *c, int epfd, uint32_t index, const char *data, size_t len);

/* Closes the fd (which also leaves the epoll set), frees the queue and bumps gen. */
void lg_conn_close(struct lg_conn *c);

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

/* lg_proc_cpu_seconds(pid), or -1 when pid is 0 (no server to watch). */
double lg_server_cpu(long pid);

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

/*
 * The setup of a run of `total` client connections: raises RLIMIT_NOFILE and checks that
 * total + reserve descriptors fit ("NOUNs" names them in the message), resolves host:port to
 * *dst, and picks the first source address (`base`, or lg_src_base_default when 0) into
 * *src_base, checking that the last one stays in 127.0.0.0/8. 0, or -1 after printing why.
 */
int lg_clients_setup(const char *host, const char *port, int total, int reserve, const char *noun,
                     uint32_t base, int per_addr, struct sockaddr_in *dst, uint32_t *src_base);

/* ---- a ramp-hold-send run: the clients' counts ------------------------------------------- */

/*
 * How the clients of a run are doing. A client is in flight from connect() until it is ready
 * (the protocol's handshake is over), then ready until it ends; `done` counts the ends.
 */
struct lg_clients {
    int started;  /* connections begun */
    int inflight; /* between connect and ready */
    int ready;    /* ready (and not lost since) */
    int ever_ready;
    int done;       /* connections finished (failed or closed) */
    int not_opened; /* connections never opened (--ramp-timeout) */
    uint64_t lost_after_ready;
    struct lg_hist connect_ready; /* connect() to ready */
};

/*
 * The report's lines on the clients: "NOUNs: ready N of ASKED ..., lost after WORD ..." and,
 * after the tool's own lines on how connections ended, "ramp: ... connect->STEP ms ...".
 */
void lg_clients_print(const struct lg_clients *c, int asked, const char *noun, const char *word);
void lg_clients_print_ramp(const struct lg_clients *c, double ramp_secs, const char *noun,
                           const char *step);

/* The result fields from ready= to conn_ready_p99_ms= (fails: connections that ended). */
void lg_clients_result(const struct lg_clients *c, uint64_t fails, uint32_t src_base,
                       double ramp_secs);

/* ---- a ramp-hold-send run: the server's readings at each phase ---------------------------- */

/*
 * What hearth-gwload and hearth-ircload read about the server (with --server-pid) and
 * themselves as a run goes: before the first connection, 2 s after the last client is ready,
 * at the end of the hold, and around the sending window. Memory in KiB, CPU in seconds; -1
 * where not read. lg_marks_init sets the -1s.
 */
struct lg_marks {
    long rss_before, hwm_before, rss_ready, rss_held, hwm_end;
    long fds_before, fds_held; /* the server's open descriptors */
    double srv_cpu_start, srv_cpu_ready, srv_cpu_held, srv_cpu_send0, srv_cpu_send1;
    double gen_cpu_send0, gen_cpu_send1;
    double ramp_secs, hold_secs, settle_secs, send_secs;
};

void lg_marks_init(struct lg_marks *m);

/* Before the first connection: -1 when pid's /proc/PID/status cannot be read. */
int lg_marks_start(struct lg_marks *m, long pid);

/* All clients ready (and the server settled): memory and CPU. */
void lg_marks_ready(struct lg_marks *m, long pid);

/* The end of the hold, which lasted hold_secs. */
void lg_marks_held(struct lg_marks *m, long pid, double hold_secs);

/*
 * The hold, one loop step at a time, *t_phase being when the last client became ready: 2 s
 * later the "ready" readings (then *t_phase restarts), hold_ns after those the end of the hold.
 * True when the hold is over.
 */
bool lg_marks_hold_step(struct lg_marks *m, long pid, uint64_t now, uint64_t *t_phase,
                        uint64_t hold_ns);

/*
 * A run that stopped early (interrupted, or its sender failed): the readings it still lacks.
 * t_ramp0 is when the ramp began; sending says whether the sending window was open.
 */
void lg_marks_cut_short(struct lg_marks *m, long pid, uint64_t t_ramp0, bool sending);

/*
 * The end of the sending window at `now` (it began at t_send0). Unless every copy arrived
 * (all_in), says on stderr that the run gave up drain seconds after the last WHAT.
 */
void lg_marks_send_done(struct lg_marks *m, long pid, uint64_t now, uint64_t t_send0, bool all_in,
                        double drain, const char *what);

/* The start and the end of the sending window. */
void lg_marks_send_start(struct lg_marks *m, long pid);
void lg_marks_send_end(struct lg_marks *m, long pid);

/*
 * The report lines on the server's memory and CPU (printed only with a pid), and the matching
 * result fields (" rss_before_kib=... srv_cpu_hold_s=..."). `ready` clients were held at the
 * end, `ever_ready` were ready at some point; noun names a client ("session").
 */
void lg_marks_print(const struct lg_marks *m, long pid, int ready, int ever_ready,
                    const char *noun);
void lg_marks_result(const struct lg_marks *m, long pid, int ready, int ever_ready);

/*
 * The report lines and result fields on the CPU of the sending window: `msgs` messages
 * delivered `deliveries` times.
 */
void lg_send_cpu_print(const struct lg_marks *m, int msgs, uint64_t deliveries);
void lg_send_cpu_result(const struct lg_marks *m, int msgs, uint64_t deliveries);

/* The generator's CPU and peak RSS: the report line, and the result fields ending the line. */
void lg_self_print(void);
void lg_self_result(void);

/* ---- time-stamped fan-out messages --------------------------------------------------------- */

/*
 * Message `index` of a run carries "lat:<CLOCK_MONOTONIC ns>:<run nonce>:<index>:" in its text,
 * so every copy that arrives at a client is one delay sample. lg_fanout keeps the samples and,
 * per message, how many copies arrived and when the last one did.
 */
struct lg_fanout {
    int messages;         /* messages the run may send */
    int expected_per_msg; /* copies of each message expected (clients ready when sending) */
    char nonce[17];       /* 16 hex digits, per run */
    uint64_t *msg_last;   /* per message: last arrival; NULL when messages is 0 */
    uint32_t *msg_count;  /* per message: copies arrived */
    uint64_t deliveries;  /* timed copies */
    uint64_t foreign;     /* stamped text from another run, or a bad index */
    uint64_t t_first_send, t_last_delivery;
    struct lg_hist lat;      /* arrival - send, per copy */
    struct lg_hist complete; /* per message: last arrival - send */
};

/* Draws the nonce from *rng and allocates the per-message tables (exits when out of memory). */
void lg_fanout_init(struct lg_fanout *f, int messages, uint64_t *rng);

/* Writes "lat:<now>:<nonce>:<index>:" at buf; returns its length (snprintf's). */
int lg_fanout_stamp(const struct lg_fanout *f, char *buf, size_t size, uint64_t now, int index);

/*
 * Takes one arrival whose text, [p, end), follows "lat:": records its delay, or counts it in
 * foreign when it is not one of this run's messages.
 */
void lg_fanout_arrival(struct lg_fanout *f, const char *p, const char *end, uint64_t now);

/* Messages whose every expected copy arrived. */
int lg_fanout_complete(const struct lg_fanout *f);

/* Copies per second from the first send to the last arrival; 0 before any. */
double lg_fanout_rate(const struct lg_fanout *f);

/*
 * The report lines on deliveries ("deliveries N of E expected ..., messages reaching every
 * NOUN"; "WHAT ms: p50 ..."; "LAST ms: p50 ...") for `sent` messages, and the result fields
 * from deliveries_per_s to last_p99_ms.
 */
void lg_fanout_print(const struct lg_fanout *f, int sent, const char *noun, const char *what,
                     const char *last);
void lg_fanout_result(const struct lg_fanout *f);

#endif
