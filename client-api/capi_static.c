/*
 * capi_static.c: the web client's files, served at / (spec/web-client.md §2).
 *
 * DESIGN: every path outside /api, /gateway and /healthz lands here. The web client is
 * plain files (HTML, CSS, ES modules) under one directory, the web root: the `web-dir`
 * setting, or by default the source tree's web/ for a hearthd run from its build tree and
 * share/hearth/web beside an installed one (so an install can be moved as a whole).
 *
 * A path is resolved one segment at a time with openat(O_NOFOLLOW) from a descriptor of
 * the web root, so no segment can climb out ("..", ".", empty and hidden segments are
 * refused before any system call) and no symbolic link is ever followed, inside or out;
 * only a regular file is served. libmicrohttpd has already percent-decoded the path, so an
 * encoded "%2e%2e" arrives here as ".." and is refused like the plain one.
 *
 * The client routes its own pages (/login, /channels/..., /invite/CODE): those paths get
 * index.html, so a reload or a shared link opens the right screen. A missing asset is a
 * 404, never index.html in disguise.
 *
 * Files have no content hash in their names (there is no build step), so every response
 * says `Cache-Control: no-cache` with an ETag from the file's size and modification time:
 * a browser revalidates and gets a 304 without the body while nothing changed.
 */
#include "capi_internal.h"
#include "hs_log.h"
#include "hs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEGMENTS 16

/* Client-side routes: the first path segment of a page the client draws itself. */
static const char *const client_routes[] = {"channels", "invite", "login", "register"};

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"webp", "image/webp"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
};

/* What index.html may load: only this origin's files, its API and its gateway; images also
 * from blob: (attachments fetched with the token) and data: (small icons). */
#define INDEX_CSP                                                                                  \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "        \
    "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "    \
    "form-action 'self'; frame-ancestors 'none'"

static char default_root[PATH_MAX];

/* dst = a followed by b; the caller checked that they fit in PATH_MAX. */
static void join_path(char *dst, const char *a, const char *b)
{
    size_t la = strlen(a);
    memcpy(dst, a, la);
    memcpy(dst + la, b, strlen(b) + 1);
}
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

/*
 * The default web root. HEARTH_BUILD_DIR and HEARTH_SOURCE_WEB_DIR come from CMake: a
 * hearthd whose own directory is the build directory serves the source tree's files, so
 * an edit shows on reload; any other (installed) one serves ../share/hearth/web relative
 * to its binary.
 */
static void find_default_root(void)
{
    char exe[PATH_MAX], build[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(default_root, sizeof(default_root), "%s", HEARTH_SOURCE_WEB_DIR);
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if (realpath(HEARTH_BUILD_DIR, build) && strcmp(build, exe) == 0)
        snprintf(default_root, sizeof(default_root), "%s", HEARTH_SOURCE_WEB_DIR);
    else if (strlen(exe) + sizeof("/../share/hearth/web") <= sizeof(default_root))
        join_path(default_root, exe, "/../share/hearth/web");
}

static const char *web_root(const capi_req *req)
{
    const char *dir = req->srv->cfg->web_dir;
    if (dir && *dir)
        return dir;
    pthread_once(&default_once, find_default_root);
    return default_root;
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < HS_ARRAY_LEN(types); i++)
            if (strcmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/*
 * Splits path (a copy, modified in place) into at most MAX_SEGMENTS segments. Returns the
 * count, or -1 for a segment that is empty (other than a trailing one), ".", "..", hidden
 * (starts with a dot) or holds a backslash.
 */
static int split_path(char *path, const char **seg)
{
    int n = 0;
    char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (!*p || p[0] == '.' || strchr(p, '\\') || n == MAX_SEGMENTS)
            return -1;
        seg[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
        if (!*p)
            break; /* a trailing slash */
    }
    return n;
}

static int is_client_route(const char **seg, int n)
{
    if (n == 0)
        return 1;
    for (size_t i = 0; i < HS_ARRAY_LEN(client_routes); i++)
        if (strcmp(seg[0], client_routes[i]) == 0)
            return 1;
    return 0;
}

/*
 * Opens seg[0]/.../seg[n-1] under root without following any symbolic link. Returns a
 * descriptor of a regular file (and its stat), or -1.
 */
static int open_beneath(const char *root, const char **seg, int n, struct stat *st)
{
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (last ? 0 : O_DIRECTORY);
        int fd = openat(dir, seg[i], flags);
        close(dir);
        if (fd < 0)
            return -1;
        dir = fd;
    }
    if (fstat(dir, st) < 0 || !S_ISREG(st->st_mode)) {
        close(dir);
        return -1;
    }
    return dir;
}

static void not_found(capi_req *req)
{
    capi_respond_code(req, 404, 0, "404: Not Found");
}

void capi_static_serve(capi_req *req, const char *url)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        capi_respond_code(req, 405, 0, "405: Method Not Allowed");
        return;
    }
    char *copy = hs_xstrdup(url);
    const char *seg[MAX_SEGMENTS + 1];
    int n = split_path(copy, seg);
    if (n < 0) {
        free(copy);
        not_found(req);
        return;
    }
    int index = is_client_route(seg, n);
    if (index) {
        seg[0] = "index.html";
        n = 1;
    }
    struct stat st;
    int fd = open_beneath(web_root(req), seg, n, &st);
    const char *type = content_type(seg[n - 1]);
    free(copy);
    if (fd < 0) {
        if (index)
            hs_log(HS_LOG_WARN, "http", "web client: no index.html in '%s' (see --web-dir)",
                   web_root(req));
        not_found(req);
        return;
    }

    char etag[64];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *inm =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    struct MHD_Response *r;
    unsigned status = 200;
    if (inm && strstr(inm, etag)) {
        close(fd);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        status = 304;
    } else {
        /* Takes fd. */
        r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        HS_ASSERT(r);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (index) {
        MHD_add_response_header(r, "Content-Security-Policy", INDEX_CSP);
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    }
    req->status = status;
    req->raw_resp = r;
}
