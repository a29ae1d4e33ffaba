/*
 * Mentions (spec/rest-messages.md §2). DESIGN: scanning is a pure pass over the text, so
 * that it can be tested on its own and costs one pass however the message is resolved;
 * resolving then asks the database one indexed question per distinct id. Discord's rules
 * are kept in one place, hs_mentions_resolve:
 *   - a user counts when the account exists and can be reached in this channel (a member
 *     of the guild, a recipient of the DM), so that <@123> of a stranger stays plain text;
 *   - a role counts when it is one of the guild's, not @everyone, and either mentionable
 *     or the author holds MENTION_EVERYONE;
 *   - @everyone and @here count only for an author holding MENTION_EVERYONE;
 *   - allowed_mentions, when given, lets a kind through only if `parse` names it or the
 *     id is listed, and a reply mentions its author only with replied_user: true.
 */
#include "hs_mentions.h"
#include "hs_perm.h"
#include "hs_util.h"

#include <string.h>

static int has_id(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

static void add_id(uint64_t *ids, size_t *n, size_t max, uint64_t id)
{
    if (*n < max && !has_id(ids, *n, id))
        ids[(*n)++] = id;
}

/* Parses "<@123>", "<@!123>" or "<@&123>" at p. Returns the bytes consumed (0: none). */
static size_t parse_tag(const char *p, int *role, uint64_t *id)
{
    const char *q = p + 2;
    *role = 0;
    if (*q == '!') {
        q++;
    } else if (*q == '&') {
        *role = 1;
        q++;
    }
    uint64_t v = 0;
    const char *digits = q;
    while (*q >= '0' && *q <= '9') {
        if (q - digits >= 19 || v > (uint64_t)INT64_MAX / 10)
            return 0;
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (q == digits || *q != '>' || v == 0 || v > (uint64_t)INT64_MAX)
        return 0;
    *id = v;
    return (size_t)(q + 1 - p);
}

void hs_mentions_scan(const char *content, struct hs_mention_scan *out)
{
    memset(out, 0, sizeof(*out));
    if (!content)
        return;
    for (const char *p = content; *p;) {
        if (p[0] == '<' && p[1] == '@') {
            int role;
            uint64_t id;
            size_t n = parse_tag(p, &role, &id);
            if (n) {
                if (role)
                    add_id(out->roles, &out->nroles, HS_MENTIONS_MAX, id);
                else
                    add_id(out->users, &out->nusers, HS_MENTIONS_MAX, id);
                p += n;
                continue;
            }
        } else if (p[0] == '@' &&
                   (strncmp(p, "@everyone", 9) == 0 || strncmp(p, "@here", 5) == 0)) {
            out->everyone = 1;
        }
        p++;
    }
}

int hs_mention_is_member(hs_db *db, const struct hs_channel *ch, uint64_t user_id)
{
    sqlite3_stmt *s;
    if (ch->guild_id) {
        s = hs_db_stmt(db, "SELECT 1 FROM members WHERE guild_id = ? AND user_id = ?");
        hs_bind_id(s, 1, ch->guild_id);
    } else {
        s = hs_db_stmt(db, "SELECT 1 FROM recipients WHERE channel_id = ? AND user_id = ?");
        hs_bind_id(s, 1, ch->id);
    }
    hs_bind_id(s, 2, user_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

/* Whether role_id is a role of guild_id (not @everyone) that this author may mention. */
static int role_counts(hs_db *db, uint64_t guild_id, uint64_t role_id, uint64_t author_perms)
{
    if (!guild_id || role_id == guild_id)
        return 0;
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT mentionable FROM roles WHERE id = ? AND guild_id = ?");
    hs_bind_id(s, 1, role_id);
    hs_bind_id(s, 2, guild_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    int mentionable = found && sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return found && (mentionable || (author_perms & HS_PERM_MENTION_EVERYONE));
}

void hs_mentions_resolve(hs_db *db, const struct hs_channel *ch, uint64_t author_perms,
                         const char *content, const struct hs_allowed_mentions *allowed,
                         uint64_t replied_user, struct hs_mention_result *out)
{
    struct hs_mention_scan scan;
    hs_mentions_scan(content, &scan);
    memset(out, 0, sizeof(*out));
    int all = !allowed || !allowed->given;

    for (size_t i = 0; i < scan.nusers; i++) {
        uint64_t id = scan.users[i];
        if (!all && !allowed->parse_users && !has_id(allowed->users, allowed->nusers, id))
            continue;
        if (hs_mention_is_member(db, ch, id))
            add_id(out->users, &out->nusers, HS_ARRAY_LEN(out->users), id);
    }
    if (replied_user && (all || allowed->replied_user) &&
        hs_mention_is_member(db, ch, replied_user))
        add_id(out->users, &out->nusers, HS_ARRAY_LEN(out->users), replied_user);

    for (size_t i = 0; i < scan.nroles; i++) {
        uint64_t id = scan.roles[i];
        if (!all && !allowed->parse_roles && !has_id(allowed->roles, allowed->nroles, id))
            continue;
        if (role_counts(db, ch->guild_id, id, author_perms))
            add_id(out->roles, &out->nroles, HS_ARRAY_LEN(out->roles), id);
    }

    out->everyone = scan.everyone && (author_perms & HS_PERM_MENTION_EVERYONE) &&
                    (all || allowed->parse_everyone);
}

json_t *hs_ids_json(const uint64_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, hs_json_id(ids[i]));
    return a;
}
