/*
 * hs_log.h: one line per event on stderr, "<time> <LEVEL> <subsystem>: message".
 *
 * hs_log() checks the level before evaluating its arguments. Never log tokens, keys,
 * passwords or message bodies. Any thread may log; a line is written with one write(2).
 */
#ifndef HS_LOG_H
#define HS_LOG_H

enum hs_log_level { HS_LOG_DEBUG = 0, HS_LOG_INFO, HS_LOG_WARN, HS_LOG_ERROR };

extern int hs_log_level;

#define hs_log(level, sub, ...)                                                                    \
    do {                                                                                           \
        if ((level) >= hs_log_level)                                                               \
            hs_log_write((level), (sub), __VA_ARGS__);                                             \
    } while (0)

void hs_log_write(int level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parses "debug", "info", "warn", "error"; returns -1 when unknown. */
int hs_log_parse_level(const char *s);

#endif
