/*
 * capi_gw.h: the gateway's internals, shared by its files (not a public header).
 *
 *   capi_gateway.c    the thread, its inbox and epoll loop, connections and wslay glue
 *   capi_gw_session.c sessions, their guilds, the replay ring, presence, GUILD_CREATE
 *   capi_gw_ops.c     what clients send: IDENTIFY, RESUME, heartbeats, op 3, op 8
 *   capi_gw_events.c  committed events: who hears each one (spec/client-api.md §6.4)
 *   capi_gw_out.c     output: frames into flush buffers, one send() per connection per
 *                     flush, writer threads sharing a large flush
 *
 * Everything here belongs to the gateway thread, except the inbox (post) and the bus
 * callback, which other threads call, and the connections a writer thread flushes while
 * the gateway thread waits for it (capi_gw_out.c).
 */
#ifndef CAPI_GW_H
#define CAPI_GW_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <wslay/wslay.h>
#include <zlib.h>

#include "capi_gateway.h"
#include "hs_slab.h"

#define GW_MAX_PAYLOAD 4096      /* Discord's limit on a client payload */
#define GW_WSLAY_MAX (64 * 1024) /* larger messages are refused by wslay itself (1009) */
#define GW_RATE_EVENTS 120       /* client payloads per window */
#define GW_RATE_WINDOW_MS 60000
#define GW_CLOSE_GRACE_MS 5000      /* a closing connection is dropped after this */
#define GW_GUILD_CREATE_MEMBERS 100 /* members sent inline in GUILD_CREATE */
#define GW_LARGE_GUILD 250          /* sessions above which presence goes to bots only */

/* Intents (spec/client-api.md §6.3). */
#define I_GUILDS (1u << 0)
#define I_GUILD_MEMBERS (1u << 1)
#define I_GUILD_PRESENCES (1u << 8)
#define I_GUILD_MESSAGES (1u << 9)
#define I_GUILD_MESSAGE_TYPING (1u << 11)
#define I_MESSAGE_CONTENT (1u << 15)
#define I_KNOWN ((uint64_t)0x1FFFF | (1u << 20) | (1u << 21) | (1u << 24) | (1u << 25))
#define I_PRIVILEGED (I_GUILD_MEMBERS | I_GUILD_PRESENCES | I_MESSAGE_CONTENT)
#define I_GUILD_MODERATION (1u << 2)
#define I_GUILD_INVITES (1u << 6)
#define I_GUILD_MESSAGE_REACTIONS (1u << 10)
#define I_DIRECT_MESSAGES (1u << 12)
#define I_DIRECT_MESSAGE_REACTIONS (1u << 13)
#define I_DIRECT_MESSAGE_TYPING (1u << 14)
#define I_AUTOMOD_CONFIGURATION (1u << 20)
#define I_AUTOMOD_EXECUTION (1u << 21)
#define I_ALWAYS ((uint64_t)-1)

enum { MSG_CONN, MSG_EVENT, MSG_RECONNECT_ALL };

struct gw_msg {
    int kind;
    int fd;
    char *extra;
    size_t extra_len;
    struct capi_gw_params params;
    hs_event *ev;
    struct gw_msg *next;
};

/*
 * A dispatch's bytes, serialised once and shared (by reference count) by every session that
 * gets it: the envelope before the sequence number, {"t":"TYPE","s":, and after it,
 * ,"op":0,"d":DATA}. A session's frame is prefix + its own sequence number + suffix, put
 * together only when it is written to the socket.
 */
struct gw_body {
    uint32_t refs;
    uint32_t plen, slen;
    char data[]; /* prefix, then suffix */
};

/* One entry of a session's replay ring. */
struct gw_slot {
    uint64_t seq;
    struct gw_body *b;
};

/* A payload other than a dispatch (HELLO, heartbeat ACK, INVALID_SESSION), waiting for the
 * connection's next flush. */
struct gw_ctl {
    struct gw_ctl *next;
    size_t len;
    char data[];
};

struct gw_conn;
struct gw_session;

/* Where a thread puts the frames of one flush before one send(): wslay's frame writer, whose
 * send callback appends to buf, and a buffer for zlib-stream output before it is framed. */
struct gw_out {
    wslay_frame_context_ptr fctx;
    char *buf;
    size_t len, cap;
    unsigned char *zbuf;
    size_t zcap;
};

/*
 * A guild as the gateway sees it: the sessions that hear it (so an event visits only them)
 * and an epoch that moves whenever something that decides who sees what changes (roles,
 * members, channels, overwrites, threads), which invalidates every cached permission.
 */
struct gw_guild {
    uint64_t id;
    struct gw_session **members;
    size_t n, cap;
    uint64_t epoch;
};

/* A user's sessions (a user may be connected several times). */
struct gw_user {
    uint64_t id;
    struct gw_session *first;  /* linked through user_next */
    struct gw_session *source; /* the connected session whose presence shows, or NULL */
};

/* A session's entry for one guild: the guild and where the session sits in its list. */
struct gw_guild_ref {
    uint64_t gid;
    struct gw_guild *g;
    size_t pos;
};

/* A cached permission answer: perms of the session's user in `id` (a channel, or a guild
 * for guild-level permissions) as of `epoch`, computed at `at_ms`. */
#define GW_PCACHE 4
#define GW_PCACHE_TTL_MS 30000 /* timeouts end by themselves; answers are re-asked after this */
struct gw_pcache {
    uint64_t id, epoch, at_ms, perms;
    int guild_level;
};

#define GW_GUILDS_INLINE 2 /* guild entries kept inside the session */
struct gw_session {
    char id[33];
    uint64_t user_id;
    int bot;
    uint64_t app_id;
    uint64_t intents;
    int shard_id, shard_count;
    uint64_t seq;
    uint64_t acked;       /* the last seq the client acknowledged in a heartbeat */
    struct gw_slot *ring; /* the last dispatches not yet acknowledged, for RESUME */
    size_t ring_cap, ring_start, ring_len, ring_bytes;
    struct gw_guild_ref *guilds; /* sorted by gid; guilds_inline while they fit */
    size_t nguilds, capguilds;
    struct gw_guild_ref guilds_inline[GW_GUILDS_INLINE];
    struct gw_pcache pcache[GW_PCACHE];
    struct gw_conn *conn;
    uint64_t detached_ms;
    char status[12];      /* online, idle, dnd, invisible */
    json_t *activities;   /* as the client last set them */
    uint64_t presence_at; /* ordering of presence updates across a user's sessions */
    struct gw_session *prev, *next;
    struct gw_session *user_prev, *user_next; /* the user's other sessions */
};

struct gw_conn {
    capi_gateway *gw;
    int fd;
    wslay_event_context_ptr ws;
    struct gw_session *sess;
    struct capi_gw_params params;
    char *extra;
    size_t extra_len, extra_off;
    uint64_t opened_ms, last_beat_ms;
    uint64_t rl_start_ms;
    int rl_count;
    int closing;
    uint64_t closing_ms;
    int dead; /* drop at the end of this batch (on gw->dead) */
    struct gw_conn *next_dead;
    int dirty;     /* has output to flush */
    uint64_t sent; /* the session's last seq written out (to the socket or obuf) */
    char *obuf;    /* bytes the socket did not take yet (then nothing more is written) */
    size_t obuf_len, obuf_off;
    struct gw_ctl *ctl, *ctl_tail; /* payloads other than dispatches, in order */
    int end_session; /* the session ends with this connection (client closed 1000/1001) */
    uint32_t ep_events;
    z_stream *z;
    /* Input accounting that lets an idle connection give its wslay context back: bytes
     * handed to wslay, and bytes of the frames it has started (header + payload). */
    uint64_t in_read, in_framed;
    int in_fragmented;  /* a data message whose last frame has not arrived */
    int in_recv;        /* inside wslay_event_recv (its context must stay) */
    struct gw_out *out; /* the flush buffer of the thread flushing it, during a flush */
    int flush_failed;   /* a writer thread found the socket broken: kill after the flush */
    struct gw_conn *prev, *next;
    struct gw_conn *next_dirty;
};

struct capi_gateway {
    hs_core *core;
    const hs_config *cfg;
    pthread_t thread;
    int epfd, evfd;
    pthread_mutex_t lock;
    struct gw_msg *head, *tail;
    int stopping;
    struct gw_conn *conns;
    struct gw_conn *dirty;
    struct gw_conn *dead; /* connections to drop at the end of this batch */
    struct gw_session *sessions;
    size_t nsessions, nconns;
    hs_slab *conn_slab, *sess_slab; /* where connections and sessions live (hs_slab.h) */
    hs_db *db;
    int bus_sub;
    uint64_t last_sweep_ms;
    uint64_t presence_clock;
    struct gw_guild **gtable; /* open addressing by guild id */
    size_t gcap, gcount;
    struct gw_user **utable; /* open addressing by user id */
    size_t ucap, ucount;
    uint64_t dm_epoch;     /* moves when any DM's recipients change */
    int stopping_sessions; /* shutting down: sessions end without consequences */
    uint64_t last_trim_ms;
    size_t ring_freed; /* frame bytes dropped from replay rings since the last trim */
    /* Output (capi_gw_out.c): the gateway thread's flush buffer, and the writer threads
     * that take shares of a large flush while the gateway thread waits. */
    struct gw_out out;
    struct gw_writer *writers;
    int nwriters;
    pthread_mutex_t wlock;
    pthread_cond_t wgo, wdone;
    uint64_t wround;
    int wpending, wstop;
    struct gw_conn **batch; /* the connections of the flush in progress */
    size_t batch_cap;
};

struct route;

/* capi_gateway.c */
uint64_t gw_now_ms(void);
/* Marks a connection to be dropped at the end of the current batch. */
void gw_conn_kill(struct gw_conn *c);
void gw_conn_mark_dirty(struct gw_conn *c);
void gw_conn_close(struct gw_conn *c, uint16_t code, const char *reason);
/* Queues a payload that is not a dispatch (it is written before the connection's pending
 * dispatches at its next flush). */
void gw_conn_send(struct gw_conn *c, const char *text, size_t len);
/* A wslay context with nothing to do goes back (not from inside its own callbacks). */
void gw_ws_release_if_idle(struct gw_conn *c);

/* capi_gw_out.c */
/* Writes the connection's pending output now (as much as the socket takes); the gateway
 * thread. */
void gw_conn_flush(struct gw_conn *c);
/* Flushes every dirty connection, sharing a large batch with the writer threads. */
void gw_flush_dirty(capi_gateway *gw);
/* Appends bytes to a flush buffer (wslay's send callbacks). */
ssize_t gw_out_append(struct gw_out *o, const uint8_t *data, size_t len);
/* Gives back flush buffers grown for one big flush (the gateway thread, between flushes). */
void gw_out_shrink(capi_gateway *gw);
void gw_writers_start(capi_gateway *gw);
void gw_writers_stop(capi_gateway *gw);
void gw_conn_send_json(struct gw_conn *c, json_t *payload /* takes */);

/* capi_gw_session.c */
int gw_session_has_guild(const struct gw_session *s, uint64_t gid);
int gw_shard_owns(const struct gw_session *s, uint64_t gid);
void gw_session_add_guild(capi_gateway *gw, struct gw_session *s, uint64_t gid);
void gw_session_drop_guild(struct gw_session *s, uint64_t gid);
/* The guild's entry, NULL when no session hears it (create: make it). */
struct gw_guild *gw_guild_find(capi_gateway *gw, uint64_t gid, int create);
void gw_guilds_free(capi_gateway *gw);
/* A user's first session (then ->user_next), NULL when none. */
struct gw_session *gw_user_sessions(capi_gateway *gw, uint64_t uid);
/* Adds a new session to the gateway's lists (all sessions, its user's). */
void gw_session_link(capi_gateway *gw, struct gw_session *s);
/* The session's user's permissions in a channel (include deleted) or, with guild_level, in
 * the guild; 0 when it has none or is not there. Cached per session (struct gw_pcache). */
uint64_t gw_session_perms(capi_gateway *gw, struct gw_session *s, uint64_t guild_id, uint64_t id,
                          int guild_level);
void gw_session_free(capi_gateway *gw, struct gw_session *s);
void gw_session_acked(capi_gateway *gw, struct gw_session *s, uint64_t seq);
struct gw_session *gw_session_find(capi_gateway *gw, const char *id);
/* A shared dispatch body of type t with data d (JSON text); one reference. */
struct gw_body *gw_body_new(const char *t, const char *d, size_t dlen);
void gw_body_unref(struct gw_body *b);
/* The length of b's frame for sequence number seq. */
size_t gw_frame_len(uint64_t seq, const struct gw_body *b);
/* Appends a dispatch to the session's ring (taking a reference on b) and, when connected,
 * marks its connection for the flush that writes it. */
void gw_dispatch_body(capi_gateway *gw, struct gw_session *s, struct gw_body *b);
void gw_dispatch(capi_gateway *gw, struct gw_session *s, const char *t, const char *d, size_t dlen);
void gw_dispatch_json(capi_gateway *gw, struct gw_session *s, const char *t, json_t *d);
struct gw_session *gw_presence_source(capi_gateway *gw, uint64_t uid);
/* Keeps the user's presence source current: after s set its presence or gained or lost its
 * connection (O(1), except when the source itself leaves). */
void gw_presence_update(capi_gateway *gw, struct gw_session *s);
json_t *gw_presence_json(capi_gateway *gw, uint64_t uid, uint64_t gid);
void gw_broadcast_presence(capi_gateway *gw, uint64_t uid);
int gw_set_presence(capi_gateway *gw, struct gw_session *s, json_t *d);
void gw_send_guild_create(capi_gateway *gw, struct gw_session *s, uint64_t gid);
void gw_send_guild_delete(capi_gateway *gw, struct gw_session *s, uint64_t gid);

/* capi_gw_ops.c */
void gw_handle_payload(struct gw_conn *c, const uint8_t *msg, size_t len);

/* capi_gw_events.c */
const struct route *gw_route_of(const char *type);
void gw_on_event(capi_gateway *gw, hs_event *ev);

#endif
