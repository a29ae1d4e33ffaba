/*
 * Committed events to dispatches: one table says, per event type, which intent selects it
 * and which sessions hear it (spec/client-api.md §6.4). The gateway thread only.
 */
#include "capi_gw.h"
#include "hs_accounts.h"
#include "hs_buf.h"
#include "hs_channels.h"
#include "hs_dms.h"
#include "hs_guilds.h"
#include "hs_log.h"
#include "hs_perm.h"
#include "hs_threads.h"
#include "hs_time.h"
#include "hs_util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ events */

static int mentions_user(json_t *msg, uint64_t uid)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(msg, "mentions"), i, u)
    {
        uint64_t id;
        if (hs_parse_u64(json_string_value(json_object_get(u, "id")), &id) == 0 && id == uid)
            return 1;
    }
    return 0;
}

/* Which sessions hear of an event (spec/client-api.md §6.4). */
enum audience {
    AUD_CHANNEL,      /* sessions that may view ev->channel_id (guild members or recipients) */
    AUD_CHANNEL_PERM, /* ... and hold `perm` in it */
    AUD_GUILD,        /* sessions in ev->guild_id */
    AUD_GUILD_PERM,   /* ... holding the guild-level permission `perm` */
    AUD_SELF,         /* the sessions of ev->actor_id (the user the event is about) */
    AUD_MEMBER_ADD,
    AUD_MEMBER_REMOVE,
    AUD_MEMBER_UPDATE,
    AUD_GUILD_DELETE,
};

struct route {
    const char *type;
    int audience;
    uint64_t intent;    /* in a guild */
    uint64_t dm_intent; /* in a DM (0: the same as intent) */
    uint64_t perm;
    int has_content; /* blank content for bots without MESSAGE_CONTENT */
};

static const struct route routes[] = {
    {"MESSAGE_CREATE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 1},
    {"MESSAGE_UPDATE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 1},
    {"MESSAGE_DELETE", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 0},
    {"MESSAGE_DELETE_BULK", AUD_CHANNEL, I_GUILD_MESSAGES, I_DIRECT_MESSAGES, 0, 0},
    {"MESSAGE_REACTION_ADD", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS, I_DIRECT_MESSAGE_REACTIONS, 0,
     0},
    {"MESSAGE_REACTION_REMOVE", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS, I_DIRECT_MESSAGE_REACTIONS,
     0, 0},
    {"MESSAGE_REACTION_REMOVE_ALL", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS,
     I_DIRECT_MESSAGE_REACTIONS, 0, 0},
    {"MESSAGE_REACTION_REMOVE_EMOJI", AUD_CHANNEL, I_GUILD_MESSAGE_REACTIONS,
     I_DIRECT_MESSAGE_REACTIONS, 0, 0},
    {"TYPING_START", AUD_CHANNEL, I_GUILD_MESSAGE_TYPING, I_DIRECT_MESSAGE_TYPING, 0, 0},
    {"CHANNEL_CREATE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_UPDATE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_DELETE", AUD_CHANNEL, I_GUILDS, I_ALWAYS, 0, 0},
    {"CHANNEL_PINS_UPDATE", AUD_CHANNEL, I_GUILDS, I_DIRECT_MESSAGES, 0, 0},
    {"CHANNEL_RECIPIENT_ADD", AUD_CHANNEL, I_ALWAYS, I_ALWAYS, 0, 0},
    {"CHANNEL_RECIPIENT_REMOVE", AUD_CHANNEL, I_ALWAYS, I_ALWAYS, 0, 0},
    {"THREAD_CREATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_UPDATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_DELETE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_MEMBERS_UPDATE", AUD_CHANNEL, I_GUILDS, 0, 0, 0},
    {"THREAD_MEMBER_UPDATE", AUD_SELF, I_GUILDS, 0, 0, 0},
    {"INVITE_CREATE", AUD_CHANNEL_PERM, I_GUILD_INVITES, 0, HS_PERM_MANAGE_CHANNELS, 0},
    {"INVITE_DELETE", AUD_CHANNEL_PERM, I_GUILD_INVITES, 0, HS_PERM_MANAGE_CHANNELS, 0},
    {"GUILD_UPDATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_DELETE", AUD_GUILD_DELETE, I_ALWAYS, 0, 0, 0},
    {"GUILD_ROLE_CREATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_ROLE_UPDATE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_ROLE_DELETE", AUD_GUILD, I_GUILDS, 0, 0, 0},
    {"GUILD_MEMBER_ADD", AUD_MEMBER_ADD, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_MEMBER_UPDATE", AUD_MEMBER_UPDATE, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_MEMBER_REMOVE", AUD_MEMBER_REMOVE, I_GUILD_MEMBERS, 0, 0, 0},
    {"GUILD_BAN_ADD", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_BAN_MEMBERS, 0},
    {"GUILD_BAN_REMOVE", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_BAN_MEMBERS, 0},
    {"GUILD_AUDIT_LOG_ENTRY_CREATE", AUD_GUILD_PERM, I_GUILD_MODERATION, 0, HS_PERM_VIEW_AUDIT_LOG,
     0},
    {"AUTO_MODERATION_RULE_CREATE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_RULE_UPDATE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_RULE_DELETE", AUD_GUILD_PERM, I_AUTOMOD_CONFIGURATION, 0,
     HS_PERM_MANAGE_GUILD, 0},
    {"AUTO_MODERATION_ACTION_EXECUTION", AUD_GUILD_PERM, I_AUTOMOD_EXECUTION, 0,
     HS_PERM_MANAGE_GUILD, 1},
    {"USER_UPDATE", AUD_SELF, I_ALWAYS, 0, 0, 0},
};

const struct route *gw_route_of(const char *type)
{
    for (size_t i = 0; i < HS_ARRAY_LEN(routes); i++)
        if (strcmp(routes[i].type, type) == 0)
            return &routes[i];
    return NULL;
}

/* The event's bytes for one session, serialised at most twice per event. */
struct ev_text {
    struct gw_body *full, *blank;
};

static void ev_text_free(struct ev_text *t)
{
    gw_body_unref(t->full);
    gw_body_unref(t->blank);
}

static struct gw_body *body_of(const char *type, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    struct gw_body *b = gw_body_new(type, text, strlen(text));
    free(text);
    return b;
}

static struct gw_body *text_for(struct ev_text *t, hs_event *ev, const struct gw_session *s,
                                const struct route *r)
{
    if (r->has_content && s->bot && !(s->intents & I_MESSAGE_CONTENT) &&
        ev->actor_id != s->user_id && !mentions_user(ev->data, s->user_id)) {
        /* Without MESSAGE_CONTENT a bot sees that a message exists, not what it says. */
        if (!t->blank) {
            /* Messages carry the first four; AutoMod's executions content and
             * matched_content. Only fields the event has are blanked. */
            static const char *const texts[] = {"content", "matched_content"};
            static const char *const lists[] = {"embeds", "attachments", "components"};
            json_t *copy = json_deep_copy(ev->data);
            for (size_t i = 0; i < HS_ARRAY_LEN(texts); i++)
                if (json_object_get(copy, texts[i]))
                    json_object_set_new(copy, texts[i], json_string(""));
            for (size_t i = 0; i < HS_ARRAY_LEN(lists); i++)
                if (json_object_get(copy, lists[i]))
                    json_object_set_new(copy, lists[i], json_array());
            t->blank = body_of(ev->type, copy);
            json_decref(copy);
        }
        return t->blank;
    }
    if (!t->full)
        t->full = body_of(ev->type, ev->data);
    return t->full;
}

static uint64_t user_of(json_t *data)
{
    uint64_t uid = 0;
    json_t *user = json_object_get(data, "user");
    hs_parse_u64(json_string_value(json_object_get(user, "id")), &uid);
    return uid;
}

/* Whether session s is in the audience of ev (intents aside). */
/* Whether session s is in the audience of ev (intents aside). Permission answers come from
 * the session's cache, which the guild's epoch invalidates (gw_on_event). */
static int hears(capi_gateway *gw, const struct route *r, hs_event *ev, struct gw_session *s)
{
    uint64_t perms;
    switch (r->audience) {
    case AUD_CHANNEL:
    case AUD_CHANNEL_PERM:
        if (ev->guild_id && !gw_session_has_guild(s, ev->guild_id))
            return 0;
        /* Deleted channels still count, so that those who saw it hear it is gone. */
        perms = gw_session_perms(gw, s, ev->guild_id, ev->channel_id, 0);
        if (!(perms & HS_PERM_VIEW_CHANNEL))
            return 0;
        return r->audience == AUD_CHANNEL || (perms & r->perm) == r->perm;
    case AUD_GUILD:
        return gw_session_has_guild(s, ev->guild_id);
    case AUD_GUILD_PERM:
        return gw_session_has_guild(s, ev->guild_id) &&
               (gw_session_perms(gw, s, ev->guild_id, ev->guild_id, 1) & r->perm) == r->perm;
    case AUD_SELF:
        return s->user_id == ev->actor_id;
    }
    return 0;
}

/* A DM channel as one recipient sees it: its `recipients` are the others (as in READY's
 * private_channels and GET /channels/{id}); the event lists everyone. */
static struct gw_body *dm_body_for(hs_event *ev, uint64_t viewer)
{
    json_t *copy = json_deep_copy(ev->data);
    hs_dm_view_for(copy, viewer);
    struct gw_body *b = body_of(ev->type, copy);
    json_decref(copy);
    return b;
}

static void deliver(capi_gateway *gw, const struct route *r, hs_event *ev, struct gw_session *s,
                    uint64_t intent, struct ev_text *t)
{
    if ((intent != I_ALWAYS && !(s->intents & intent)) || !hears(gw, r, ev, s))
        return;
    if (!ev->guild_id && json_is_array(json_object_get(ev->data, "recipients"))) {
        struct gw_body *b = dm_body_for(ev, s->user_id);
        gw_dispatch_body(gw, s, b);
        gw_body_unref(b);
        return;
    }
    gw_dispatch_body(gw, s, text_for(t, ev, s, r));
}

/* A guild's event visits only the sessions in that guild; DM and self events visit all. */
static void fan_out(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    struct ev_text t = {NULL, NULL};
    uint64_t intent = !ev->guild_id && r->dm_intent ? r->dm_intent : r->intent;
    if (ev->guild_id) {
        struct gw_guild *g = gw_guild_find(gw, ev->guild_id, 0);
        for (size_t i = 0; g && i < g->n; i++)
            deliver(gw, r, ev, g->members[i], intent, &t);
    } else if (r->audience == AUD_SELF) {
        for (struct gw_session *s = gw_user_sessions(gw, ev->actor_id); s; s = s->user_next)
            deliver(gw, r, ev, s, intent, &t);
    } else {
        /* A DM: its recipients' sessions. */
        size_t n = 0;
        uint64_t *ids = hs_dm_recipient_ids(gw->db, ev->channel_id, &n);
        for (size_t i = 0; i < n; i++)
            for (struct gw_session *s = gw_user_sessions(gw, ids[i]); s; s = s->user_next)
                deliver(gw, r, ev, s, intent, &t);
        free(ids);
    }
    ev_text_free(&t);
}

/* A copy of a guild's session list, for loops that change it. Free with free(). */
static struct gw_session **guild_snapshot(capi_gateway *gw, uint64_t gid, size_t *n)
{
    struct gw_guild *g = gw_guild_find(gw, gid, 0);
    *n = g ? g->n : 0;
    if (!*n)
        return NULL;
    struct gw_session **copy = hs_xmalloc(*n * sizeof(*copy));
    memcpy(copy, g->members, *n * sizeof(*copy));
    return copy;
}

/* GUILD_MEMBER_ADD: the new member's own sessions get the guild (GUILD_CREATE); the others
 * in the guild get the event. */
static void member_added(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    struct gw_guild *g = gw_guild_find(gw, ev->guild_id, 0);
    for (size_t i = 0; g && i < g->n; i++) {
        struct gw_session *s = g->members[i];
        if (s->user_id != uid && (s->intents & r->intent)) {
            gw_dispatch_body(gw, s, text_for(&t, ev, s, r));
        }
    }
    ev_text_free(&t);
    for (struct gw_session *s = gw_user_sessions(gw, uid); s; s = s->user_next) {
        if (!gw_session_has_guild(s, ev->guild_id) && gw_shard_owns(s, ev->guild_id)) {
            gw_session_add_guild(gw, s, ev->guild_id);
            gw_send_guild_create(gw, s, ev->guild_id);
        }
    }
}

/* GUILD_MEMBER_REMOVE (leave, kick, ban): the member's sessions lose the guild
 * (GUILD_DELETE without `unavailable`); the others in the guild get the event. */
static void member_removed(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    size_t n;
    struct gw_session **list = guild_snapshot(gw, ev->guild_id, &n);
    for (size_t i = 0; i < n; i++) {
        struct gw_session *s = list[i];
        if (s->user_id == uid) {
            gw_send_guild_delete(gw, s, ev->guild_id);
        } else if (s->intents & r->intent) {
            gw_dispatch_body(gw, s, text_for(&t, ev, s, r));
        }
    }
    free(list);
    ev_text_free(&t);
}

/* GUILD_MEMBER_UPDATE: to the guild with GUILD_MEMBERS, and to the member itself always. */
static void member_updated(capi_gateway *gw, const struct route *r, hs_event *ev)
{
    uint64_t uid = user_of(ev->data);
    struct ev_text t = {NULL, NULL};
    struct gw_guild *g = gw_guild_find(gw, ev->guild_id, 0);
    for (size_t i = 0; g && i < g->n; i++) {
        struct gw_session *s = g->members[i];
        if (s->user_id != uid && !(s->intents & r->intent))
            continue;
        gw_dispatch_body(gw, s, text_for(&t, ev, s, r));
    }
    ev_text_free(&t);
}

static void guild_deleted(capi_gateway *gw, hs_event *ev)
{
    size_t n;
    struct gw_session **list = guild_snapshot(gw, ev->guild_id, &n);
    for (size_t i = 0; i < n; i++)
        gw_send_guild_delete(gw, list[i], ev->guild_id);
    free(list);
}

/* Events after which cached permission answers may be wrong: who holds which role, the
 * roles, the channels and their overwrites, thread membership, the owner. */
static int changes_visibility(const char *t)
{
    static const char *const prefixes[] = {"GUILD_ROLE_", "GUILD_MEMBER_", "CHANNEL_",
                                           "THREAD_",     "GUILD_UPDATE",  "GUILD_BAN_ADD"};
    for (size_t i = 0; i < HS_ARRAY_LEN(prefixes); i++)
        if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0)
            return strcmp(t, "CHANNEL_PINS_UPDATE") != 0;
    return 0;
}

void gw_on_event(capi_gateway *gw, hs_event *ev)
{
    const struct route *r = gw_route_of(ev->type);
    if (!r)
        return;
    if (changes_visibility(ev->type)) {
        /* Before routing: this very event is decided on the new state. */
        struct gw_guild *g = ev->guild_id ? gw_guild_find(gw, ev->guild_id, 0) : NULL;
        if (g)
            g->epoch++;
        else if (!ev->guild_id)
            gw->dm_epoch++;
    }
    switch (r->audience) {
    case AUD_MEMBER_ADD:
        member_added(gw, r, ev);
        break;
    case AUD_MEMBER_REMOVE:
        member_removed(gw, r, ev);
        break;
    case AUD_MEMBER_UPDATE:
        member_updated(gw, r, ev);
        break;
    case AUD_GUILD_DELETE:
        guild_deleted(gw, ev);
        break;
    default:
        fan_out(gw, r, ev);
    }
}
