#include "hs_perm.h"

int hs_perm_guild(hs_db *db, uint64_t guild_id, uint64_t user_id, uint64_t *perms, hs_error *err)
{
    sqlite3_stmt *s = hs_db_stmt(db, "SELECT owner_id, (SELECT 1 FROM members WHERE guild_id = "
                                     "g.id AND user_id = ?2) FROM guilds g WHERE id = ?1");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return hs_error_reason(err, HS_ENOTFOUND, HS_R_UNKNOWN_GUILD, "Unknown Guild");
    }
    uint64_t owner = hs_col_id(s, 0);
    int member = sqlite3_column_type(s, 1) != SQLITE_NULL;
    sqlite3_reset(s);
    if (!member)
        return hs_error_reason(err, HS_EPERM, HS_R_MISSING_ACCESS, "Missing Access");
    if (owner == user_id) {
        *perms = HS_PERM_ALL;
        return 0;
    }
    /* Base permissions: @everyone (the role whose id is the guild's) OR the member's roles;
     * SQLite has no bitwise-OR aggregate, so the rows are OR-ed here. */
    uint64_t p = 0;
    s = hs_db_stmt(db, "SELECT permissions FROM roles WHERE id = ?1 UNION ALL SELECT "
                       "r.permissions FROM member_roles mr JOIN roles r ON r.id = mr.role_id "
                       "WHERE mr.guild_id = ?1 AND mr.user_id = ?2");
    hs_bind_id(s, 1, guild_id);
    hs_bind_id(s, 2, user_id);
    while (sqlite3_step(s) == SQLITE_ROW)
        p |= (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (p & HS_PERM_ADMINISTRATOR)
        p = HS_PERM_ALL;
    *perms = p;
    return 0;
}
