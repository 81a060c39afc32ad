/* test_hub.c: the Hub client (src/data/hub.c) against tests/reference/fake_hub.py on 127.0.0.1:
 * listings (paginated) and globs, the huggingface_hub cache layout, cache hits with no
 * request, 404 and 401 messages, the token kept off the redirect host and out of logs and
 * errors, resume after a dropped connection, checksum rejection, offline mode, a cache written
 * the way huggingface_hub writes it, byte ranges (from the Hub, a CDN and the cache), and the
 * Parquet file helper.
 *
 * Must not reach the network: the fake Hub is the only server. Fails (never skips) when
 * /usr/bin/python3 is missing. */
#include "data/hub.h"

#include "core/log.h"
#include "core/sha2.h"
#include "core/stop.h"
#include "mtest.h"

#include <mill/buf.h>
#include <mill/value.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define C1 "1111111111111111111111111111111111111111" /* org/ds main */
#define C2 "2222222222222222222222222222222222222222" /* org/ds refs/convert/parquet */
#define C3 "3333333333333333333333333333333333333333" /* org/private main */
#define C4 "4444444444444444444444444444444444444444" /* org/model main */
#define TOKEN "hf_secret_token_123"
#define BIG_SIZE 300000

static char root[64];
static int port;
static FILE *server;

/* ---- files ------------------------------------------------------------------------------ */

static int mkdirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void write_file(const char *path, const void *data, size_t n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    CHECK(mkdirs(dir) == 0);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
}

static void fill(unsigned char *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (unsigned char)(seed >> 16);
    }
}

static void sha_hex(const void *p, size_t n, char hex[65]) {
    uint8_t d[32];
    mill_sha256(p, n, d);
    mill_hex(d, 32, hex);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Number of entries in dir (0 when it does not exist). */
static int count_dir(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

/* ---- the fake Hub ------------------------------------------------------------------------- */

static void add_repo_file(const char *repo, const char *commit, const char *path, const void *data,
                          size_t n) {
    char full[1024];
    snprintf(full, sizeof full, "%s/%s/%s/%s", root, repo, commit, path);
    write_file(full, data, n);
}

static void add_repo_meta(const char *repo, const char *json) {
    char full[1024];
    snprintf(full, sizeof full, "%s/%s/hub.json", root, repo);
    write_file(full, json, strlen(json));
}

static unsigned char big[BIG_SIZE];

static void build_repos(void) {
    static const char *ds = "datasets/org/ds";
    add_repo_meta(ds,
                  "{\"revisions\": {\"main\": \"" C1 "\", \"refs/convert/parquet\": \"" C2 "\"}}");
    add_repo_file(ds, C1, "README.md", "hello readme\n", 13);
    const char *tars[] = {"data/train-0.tar",
                          "data/train-1.tar",
                          "data/test-0.tar",
                          "data/sub/x.tar",
                          "default/test-00000-of-00001.parquet",
                          "default/train-00000-of-00001.parquet",
                          "other/test/0000.parquet",
                          "data/validation-00000.parquet",
                          "bad.bin",
                          "data/__pycache__/y.tar",
                          "data/.cache/z.tar"};
    for (size_t i = 0; i < sizeof tars / sizeof *tars; i++) {
        unsigned char buf[1000];
        fill(buf, sizeof buf, (uint32_t)i + 7);
        add_repo_file(ds, C1, tars[i], buf, sizeof buf);
    }
    fill(big, sizeof big, 42);
    add_repo_file(ds, C1, "big.bin", big, sizeof big);
    add_repo_file(ds, C2, "cfgx/test/0000.parquet", "PAR1-converted", 14);
    add_repo_meta("datasets/org/private",
                  "{\"revisions\": {\"main\": \"" C3 "\"}, \"token\": \"" TOKEN "\"}");
    add_repo_file("datasets/org/private", C3, "weights.bin", big, 5000);
    add_repo_file("datasets/org/private", C3, "notes.txt", "private notes\n", 14);
    add_repo_meta("models/org/model", "{\"revisions\": {\"main\": \"" C4 "\"}}");
    add_repo_file("models/org/model", C4, "config.json", "{\"dim\": 4}\n", 11);
}

/* GET path from the fake Hub over a raw socket (HTTP/1.0); the body, caller frees. */
static char *fake_get(const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    CHECK(write(fd, req, (size_t)n) == n);
    struct mill_buf b = {0};
    char tmp[4096];
    ssize_t k;
    while ((k = read(fd, tmp, sizeof tmp)) > 0)
        mill_buf_add(&b, tmp, (size_t)k);
    close(fd);
    char *body = b.p ? strstr(b.p, "\r\n\r\n") : NULL;
    char *out = body ? strdup(body + 4) : NULL;
    mill_buf_free(&b);
    return out;
}

static void ctl(const char *query) {
    char path[512];
    snprintf(path, sizeof path, "/_ctl?%s", query);
    free(fake_get(path));
}

/* Requests logged by the fake Hub whose field contains needle ("" = all) and, when field2 is
 * not NULL, whose field2 contains needle2. */
static int nreq2(const char *field, const char *needle, const char *field2, const char *needle2) {
    char *body = fake_get("/_stats");
    struct mill_value v;
    struct mill_err err = {0};
    CHECK(body != NULL);
    if (!body || mill_value_from_json(&v, body, strlen(body), &err) != 0) {
        free(body);
        return -1;
    }
    const struct mill_value *log = mill_value_get(&v, "log");
    int n = 0;
    for (size_t i = 0; log && i < log->u.list.n; i++) {
        const struct mill_value *e = &log->u.list.items[i];
        const char *s = mill_value_as_str(mill_value_get(e, field));
        const char *s2 = field2 ? mill_value_as_str(mill_value_get(e, field2)) : "";
        n += s && strstr(s, needle) && s2 && strstr(s2, field2 ? needle2 : "");
    }
    mill_value_free(&v);
    free(body);
    return n;
}

static int nreq(const char *field, const char *needle) { return nreq2(field, needle, NULL, NULL); }

/* Requests to host whose Authorization header differs from auth. */
static int n_auth_not(const char *host, const char *auth) {
    char *body = fake_get("/_stats");
    struct mill_value v;
    struct mill_err err = {0};
    if (!body || mill_value_from_json(&v, body, strlen(body), &err) != 0) {
        free(body);
        return -1;
    }
    const struct mill_value *log = mill_value_get(&v, "log");
    int n = 0;
    for (size_t i = 0; log && i < log->u.list.n; i++) {
        const struct mill_value *e = &log->u.list.items[i];
        if (!strcmp(mill_value_as_str(mill_value_get(e, "host")), host))
            n += strcmp(mill_value_as_str(mill_value_get(e, "auth")), auth) != 0;
    }
    mill_value_free(&v);
    free(body);
    return n;
}

static struct mill_hub *hub_with(const char *cache, const char *token, bool offline, int retries) {
    struct mill_hub_params p = mill_hub_default_params();
    p.max_retries = retries;
    snprintf(p.endpoint, sizeof p.endpoint, "http://127.0.0.1:%d", port);
    snprintf(p.token, sizeof p.token, "%s", token ? token : "");
    snprintf(p.cache_dir, sizeof p.cache_dir, "%s", cache);
    p.offline = offline;
    p.progress = false;
    p.retry_wait_ms = 10;
    struct mill_hub *h = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_hub_init(&h, &p, &err), 0);
    return h;
}

static struct mill_hub *hub_for(const char *cache, const char *token, bool offline) {
    return hub_with(cache, token, offline, 3);
}

static char *new_cache(void) {
    char *dir = strdup("/tmp/mill_hub_cache_XXXXXX");
    CHECK(dir && mkdtemp(dir) != NULL);
    return dir;
}

static const struct mill_hub_repo DS = {MILL_HUB_DATASET, "org/ds", NULL};

static void test_start_fake_hub(void) {
    CHECK(access("/usr/bin/python3", X_OK) == 0); /* a missing python3 fails the test */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    snprintf(root, sizeof root, "/tmp/mill_fake_hub_XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    build_repos();
    char script[1024], cmd[2048];
    mtest_source_path(script, sizeof script, "tests/reference/fake_hub.py");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, root);
    server = popen(cmd, "r");
    CHECK(server != NULL);
    char line[64];
    if (server && fgets(line, sizeof line, server))
        port = (int)strtol(line, NULL, 10);
    CHECK(port > 0);
}

static void test_stop_fake_hub(void) {
    ctl("quit=1");
    if (server)
        CHECK_INT(pclose(server), 0);
    rm_rf(root);
}

/* ---- pure functions ------------------------------------------------------------------------- */

static void test_glob_match(void) {
    CHECK(mill_hub_glob_match("data/*.tar", "data/train-0.tar"));
    CHECK(!mill_hub_glob_match("data/*.tar", "data/sub/x.tar"));
    CHECK(mill_hub_glob_match("data/**/*.tar", "data/sub/x.tar"));
    CHECK(mill_hub_glob_match("data/**/*.tar", "data/train-0.tar"));
    CHECK(mill_hub_glob_match("**", "a/b/c"));
    CHECK(mill_hub_glob_match("**.tar", "a/b/c.tar"));
    CHECK(mill_hub_glob_match("train-?.tar", "train-1.tar"));
    CHECK(!mill_hub_glob_match("train-?.tar", "train-10.tar"));
    CHECK(!mill_hub_glob_match("a?b", "a/b"));
    CHECK(mill_hub_glob_match("x[0-9].bin", "x7.bin"));
    CHECK(!mill_hub_glob_match("x[!0-9].bin", "x7.bin"));
    CHECK(mill_hub_glob_match("x[!0-9].bin", "xa.bin"));
    CHECK(mill_hub_glob_match("x[.bin", "x[.bin"));
    CHECK(!mill_hub_glob_match("*.tar", "a.tar.gz"));
    CHECK(mill_hub_glob_match("default/test-*.parquet", "default/test-00000-of-00001.parquet"));
    CHECK(!mill_hub_glob_match("default/test-*.parquet", "default/test/0000.parquet"));
    /* Many stars against a long path that almost matches: each state tried once (the plain
     * search takes on the order of 80^12 steps here, and never ends) */
    char path[256];
    memset(path, 'a', 80);
    memcpy(path + 80, "/x", 3);
    CHECK(!mill_hub_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
    CHECK(!mill_hub_glob_match("**a**a**a**a**a**a**a**a**a**a**b", path));
    CHECK(mill_hub_glob_match("**a**a**a**a**a**a**a**a**a**a**x", path));
}

/* HF datasets' own doctests of _is_inside_unrequested_special_dir and
 * _is_unrequested_hidden_file_or_is_inside_unrequested_hidden_dir, and its FILES_TO_IGNORE. */
static void test_data_file_wanted(void) {
    CHECK(!mill_hub_data_file_wanted("**", "__pycache__/b.txt"));
    CHECK(!mill_hub_data_file_wanted("*/b.txt", "__pycache__/b.txt"));
    CHECK(mill_hub_data_file_wanted("__pycache__/*", "__pycache__/b.txt"));
    CHECK(mill_hub_data_file_wanted("__*/*", "__pycache__/b.txt"));
    CHECK(mill_hub_data_file_wanted("**", "d/__x.parquet")); /* a file, not a directory */
    CHECK(!mill_hub_data_file_wanted("**", ".hidden_file.txt"));
    CHECK(mill_hub_data_file_wanted(".*", ".hidden_file.txt"));
    CHECK(!mill_hub_data_file_wanted("**", ".hidden_dir/a.txt"));
    CHECK(mill_hub_data_file_wanted(".*/*", ".hidden_dir/a.txt"));
    CHECK(mill_hub_data_file_wanted(".hidden_dir/*", ".hidden_dir/a.txt"));
    CHECK(!mill_hub_data_file_wanted("**", ".hidden_dir/.hidden_file.txt"));
    CHECK(!mill_hub_data_file_wanted(".*/*", ".hidden_dir/.hidden_file.txt"));
    CHECK(mill_hub_data_file_wanted(".*/.*", ".hidden_dir/.hidden_file.txt"));
    CHECK(!mill_hub_data_file_wanted(".hidden_dir/*", ".hidden_dir/.hidden_file.txt"));
    CHECK(mill_hub_data_file_wanted(".hidden_dir/.*", ".hidden_dir/.hidden_file.txt"));
    CHECK(mill_hub_data_file_wanted("./d/../*", "./d/../a.txt")); /* "." and ".." not hidden */
    CHECK(mill_hub_data_file_wanted("/home/u/.cache/d/*", "/home/u/.cache/d/a.txt"));
    CHECK(!mill_hub_data_file_wanted("d/*", "d/README.md"));
    CHECK(!mill_hub_data_file_wanted("**", "dataset_infos.json"));
    CHECK(mill_hub_data_file_wanted("d/README.md", "d/README.md"));
    CHECK(mill_hub_data_file_wanted("d/*", "d/readme.md"));
}

static void test_parse_url(void) {
    struct mill_hub_url u;
    struct mill_err err = {0};
    CHECK_INT(mill_hub_parse_url("hf://datasets/org/name/train/*.tar", &u, &err), 0);
    CHECK_INT(u.type, MILL_HUB_DATASET);
    CHECK_STR(u.id, "org/name");
    CHECK_STR(u.revision, "main");
    CHECK(!u.has_revision);
    CHECK_STR(u.path, "train/*.tar");
    CHECK_INT(
        mill_hub_parse_url("hf://datasets/org/name@refs%2Fconvert%2Fparquet/d/*.parquet", &u, &err),
        0);
    CHECK_STR(u.revision, "refs/convert/parquet");
    CHECK(u.has_revision);
    CHECK_STR(u.path, "d/*.parquet");
    CHECK_INT(mill_hub_parse_url("hf://datasets/org/name@refs/convert/parquet/x", &u, &err), 0);
    CHECK_STR(u.revision, "refs/convert/parquet");
    CHECK_STR(u.path, "x");
    CHECK_INT(mill_hub_parse_url("hf://org/model@v1.0/config.json", &u, &err), 0);
    CHECK_INT(u.type, MILL_HUB_MODEL);
    CHECK_STR(u.id, "org/model");
    CHECK_STR(u.revision, "v1.0");
    CHECK_INT(mill_hub_parse_url("https://huggingface.co/x", &u, &err), MILL_EINVAL);
    CHECK_INT(mill_hub_parse_url("hf://datasets/org", &u, &err), MILL_EINVAL);
    CHECK_INT(mill_hub_parse_url("hf://datasets/org/name", &u, &err), MILL_EINVAL);
    CHECK_INT(mill_hub_parse_url("hf://datasets/../x/y", &u, &err), MILL_EINVAL);
}

static void test_parse_listing(void) {
    static const char tree[] =
        "[{\"type\":\"directory\",\"oid\":\"0\",\"size\":0,\"path\":\"data\"},"
        "{\"type\":\"file\",\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\",\"size\":6,"
        "\"path\":\"README.md\"},"
        "{\"type\":\"file\",\"oid\":\"ff41bc16dfb821da953655bdd798c3f6e31080c3\",\"size\":134,"
        "\"path\":\"data/a.bin\",\"lfs\":{\"oid\":"
        "\"a3ad0e59551a4f9e3d38ac6a84dd2e9c6dc9360636c49a7d8a348c8149f396a4\",\"size\":1000}}]";
    struct mill_hub_listing l = {0};
    struct mill_err err = {0};
    CHECK_INT(mill_hub_parse_listing(tree, strlen(tree), &l, &err), 0);
    CHECK_INT(l.n, 2);
    if (l.n == 2) {
        CHECK_STR(l.files[0].path, "README.md");
        CHECK_STR(l.files[0].oid, "ce013625030ba8dba906f756967f9e9ca394464a");
        CHECK_STR(l.files[0].sha256, "");
        CHECK_INT(l.files[1].size, 1000);
        CHECK_STR(l.files[1].sha256,
                  "a3ad0e59551a4f9e3d38ac6a84dd2e9c6dc9360636c49a7d8a348c8149f396a4");
    }
    mill_hub_listing_free(&l);
    static const char rev[] = "{\"id\":\"o/n\",\"sha\":\"" C1 "\",\"siblings\":[{\"rfilename\":"
                              "\"a.txt\"},{\"rfilename\":\"b/c.txt\",\"size\":5}]}";
    CHECK_INT(mill_hub_parse_listing(rev, strlen(rev), &l, &err), 0);
    CHECK_STR(l.commit, C1);
    CHECK_INT(l.n, 2);
    mill_hub_listing_free(&l);
    /* an unsafe path is left out (never a cache path); the rest of the listing stands */
    static const char unsafe[] = "[{\"type\":\"file\",\"path\":\"../etc/passwd\"},"
                                 "{\"type\":\"file\",\"path\":\"/abs\"},"
                                 "{\"type\":\"file\",\"path\":\"a\\\\b\"},"
                                 "{\"type\":\"file\",\"path\":\"c\\u0001\"},"
                                 "{\"type\":\"file\",\"path\":\"ok.txt\"}]";
    CHECK_INT(mill_hub_parse_listing(unsafe, strlen(unsafe), &l, &err), 0);
    CHECK(l.n == 1 && !strcmp(l.files[0].path, "ok.txt"));
    mill_hub_listing_free(&l);
    const char *bad[] = {"[{\"type\":\"file\",\"path\":\"a\",\"size\":-1}]",
                         "[{\"type\":\"file\",\"path\":\"a\",\"lfs\":{\"oid\":\"xyz\"}}]",
                         "[{\"type\":\"file\"}]",
                         "{\"siblings\": 3}",
                         "[1]",
                         "["};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INT(mill_hub_parse_listing(bad[i], strlen(bad[i]), &l, &err), MILL_EFORMAT);
        mill_hub_listing_free(&l);
    }
}

static void test_default_params(void) {
    char home[] = "/tmp/mill_hf_home_XXXXXX", path[256];
    CHECK(mkdtemp(home) != NULL);
    snprintf(path, sizeof path, "%s/token", home);
    write_file(path, "hf_file_token\n", 14);
    const char *vars[] = {"HF_TOKEN",     "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH",
                          "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",  "HF_HUB_OFFLINE",
                          "HF_ENDPOINT"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("HF_HOME", home, 1);
    struct mill_hub_params p = mill_hub_default_params();
    CHECK_STR(p.endpoint, "https://huggingface.co");
    CHECK_STR(p.token, "hf_file_token");
    snprintf(path, sizeof path, "%s/hub", home);
    CHECK_STR(p.cache_dir, path);
    CHECK(!p.offline);
    CHECK_INT(p.max_retries, 3);
    setenv("HF_ENDPOINT", "http://mirror.example/", 1);
    setenv("HF_TOKEN", "hf_env_token", 1);
    setenv("HF_HUB_CACHE", "/x/cache", 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    p = mill_hub_default_params();
    CHECK_STR(p.endpoint, "http://mirror.example");
    CHECK_STR(p.token, "hf_env_token");
    CHECK_STR(p.cache_dir, "/x/cache");
    CHECK(p.offline);
    /* "~" and $VARS expanded as huggingface_hub's constants expand them (expanduser, then
     * expandvars; an unset variable stays as written) */
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", home, 1);
    setenv("HF_HOME", "~/", 1);
    setenv("MILL_T_SUB", "tok", 1);
    setenv("HF_TOKEN_PATH", "$HOME/${MILL_T_SUB}en", 1);
    unsetenv("MILL_T_NOPE");
    p = mill_hub_default_params();
    snprintf(path, sizeof path, "%s/hub", home); /* os.path.join("HOME/", "hub") */
    CHECK_STR(p.cache_dir, path);
    CHECK_STR(p.token, "hf_file_token");
    setenv("HF_HUB_CACHE", "~/c/$MILL_T_NOPE/${MILL_T_SUB}$", 1);
    p = mill_hub_default_params();
    snprintf(path, sizeof path, "%s/c/$MILL_T_NOPE/tok$", home);
    CHECK_STR(p.cache_dir, path);
    /* a '}' after $NAME is text; an unset ${...} is kept whole, $ inside it too */
    setenv("HF_HUB_CACHE", "$MILL_T_SUB}/${MILL_T_NOPE/$MILL_T_SUB}/${}/$/${x", 1);
    p = mill_hub_default_params();
    CHECK_STR(p.cache_dir, "tok}/${MILL_T_NOPE/$MILL_T_SUB}/${}/$/${x");
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    unsetenv("MILL_T_SUB");
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    unsetenv("HF_HOME");
    rm_rf(home);
}

/* ---- against the fake Hub ------------------------------------------------------------------ */

static void test_list_and_glob(void) {
    char *cache = new_cache();
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    ctl("reset=1&page_size=3");
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_list(h, &DS, NULL, &l, &err), 0);
    CHECK_STR(l.commit, C1);
    CHECK_INT(l.n, 13);
    CHECK(nreq("path", "cursor=") >= 3); /* pages followed through Link: rel="next" */
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "data/*.tar", &l, &err), 0);
    CHECK_INT(l.n, 3);
    if (l.n == 3) {
        CHECK_STR(l.files[0].path, "data/test-0.tar");
        CHECK_STR(l.files[2].path, "data/train-1.tar");
        CHECK_INT(l.files[0].size, 1000);
        CHECK_INT(strlen(l.files[0].sha256), 64);
    }
    CHECK(nreq("path", "/tree/" C1 "/data?recursive=true") >= 1); /* listed at the commit */
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "data/**/*.tar", &l, &err), 0);
    CHECK_INT(l.n, 4); /* neither data/__pycache__/ nor data/.cache/ (HF's resolve_pattern) */
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "data/__*/*.tar", &l, &err), 0);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.n ? l.files[0].path : "", "data/__pycache__/y.tar");
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "data/.*/*", &l, &err), 0);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.n ? l.files[0].path : "", "data/.cache/z.tar");
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "*", &l, &err), 0); /* README.md is not a data file */
    CHECK_INT(l.n, 2);
    CHECK_STR(l.n ? l.files[0].path : "", "bad.bin");
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_resolve_url(h, "hf://datasets/org/ds/data/train-*.tar", &l, &err), 0);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.commit, C1);
    mill_hub_listing_free(&l);
    CHECK_INT(mill_hub_glob(h, &DS, "data/*.zip", &l, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "no file matches data/*.zip") != NULL);
    mill_hub_listing_free(&l);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static char *cache_path(const char *cache, const char *rest) {
    char *p = NULL;
    CHECK(asprintf(&p, "%s/%s", cache, rest) > 0);
    return p;
}

static void check_link(const char *cache, const char *snap_rel, const char *target) {
    char *snap = cache_path(cache, snap_rel);
    char buf[512];
    ssize_t n = readlink(snap, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n > 0 ? n : 0] = 0;
    CHECK_STR(buf, target);
    free(snap);
}

static void test_download_layout(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    struct mill_hub_listing l = {0};
    ctl("reset=1");
    CHECK_INT(mill_hub_glob(h, &DS, "README.md", &l, &err), 0);
    const char *oid = l.n ? l.files[0].oid : "";
    CHECK_INT(mill_hub_download(h, &DS, "README.md", NULL, &local, &err), 0);
    char *want = cache_path(cache, "datasets--org--ds/snapshots/" C1 "/README.md");
    CHECK_STR(local, want);
    size_t n = 0;
    char *text = local ? mtest_read_file(local, &n) : NULL;
    CHECK(text && n == 13 && !memcmp(text, "hello readme\n", 13));
    free(text);
    char target[128], rel[256];
    snprintf(target, sizeof target, "../../blobs/%s", oid);
    check_link(cache, "datasets--org--ds/snapshots/" C1 "/README.md", target);
    char *ref = cache_path(cache, "datasets--org--ds/refs/main");
    text = mtest_read_file(ref, &n);
    CHECK(text && n == 40 && !memcmp(text, C1, 40)); /* the sha alone, as huggingface_hub */
    free(text);
    /* a second listing finds the ref already right and leaves it alone (no rename over it):
     * a read-only shared cache that holds it keeps working */
    struct stat st0, st1;
    CHECK_INT(stat(ref, &st0), 0);
    mill_hub_listing_free(&l);
    struct mill_hub *h2 = hub_for(cache, NULL, false);
    CHECK_INT(mill_hub_glob(h2, &DS, "README.md", &l, &err), 0);
    mill_hub_free(h2);
    CHECK_INT(stat(ref, &st1), 0);
    CHECK(st0.st_ino == st1.st_ino && st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec &&
          st0.st_mtim.tv_sec == st1.st_mtim.tv_sec);
    free(local);
    unsigned char tar[1000];
    char sha[65];
    fill(tar, sizeof tar, 0 + 7);
    sha_hex(tar, sizeof tar, sha);
    CHECK_INT(mill_hub_download(h, &DS, "data/train-0.tar", NULL, &local, &err), 0);
    snprintf(target, sizeof target, "../../../blobs/%s", sha);
    check_link(cache, "datasets--org--ds/snapshots/" C1 "/data/train-0.tar", target);
    snprintf(rel, sizeof rel, "datasets--org--ds/blobs/%s", sha);
    char *blob = cache_path(cache, rel);
    text = mtest_read_file(blob, &n);
    CHECK(text && n == sizeof tar && !memcmp(text, tar, n));
    free(text);
    free(blob);
    char *blobs = cache_path(cache, "datasets--org--ds/blobs");
    CHECK_INT(count_dir(blobs), 2); /* no .incomplete left */
    free(blobs);
    free(local);
    free(want);
    free(ref);
    mill_hub_listing_free(&l);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

/* A second download is served from the cache with no request at all. */
static void test_cache_hit(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    const char *files[] = {"README.md", "data/train-0.tar"};
    for (int i = 0; i < 2; i++) {
        CHECK_INT(mill_hub_download(h, &DS, files[i], NULL, &local, &err), 0);
        free(local);
    }
    ctl("reset=1");
    for (int i = 0; i < 2; i++) {
        CHECK_INT(mill_hub_download(h, &DS, files[i], NULL, &local, &err), 0);
        CHECK(local && strstr(local, "/snapshots/" C1 "/") && strstr(local, files[i]));
        free(local);
    }
    CHECK_INT(nreq("method", ""), 0);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

/* A refused connection is MILL_ENET naming the URL. */
static void test_unreachable(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub_params p = mill_hub_default_params();
    snprintf(p.endpoint, sizeof p.endpoint, "http://127.0.0.1:1");
    snprintf(p.cache_dir, sizeof p.cache_dir, "%s", cache);
    p.token[0] = 0;
    p.progress = false;
    p.retry_wait_ms = 10; /* a refused connection is retried */
    struct mill_hub *h = NULL;
    struct mill_err err = {0};
    CHECK_INT(mill_hub_init(&h, &p, &err), 0);
    CHECK_INT(mill_hub_download(h, &DS, "README.md", NULL, &local, &err), MILL_ENET);
    CHECK(strstr(err.msg, "http://127.0.0.1:1/datasets/org/ds/resolve/main/README.md") != NULL);
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_list(h, &DS, NULL, &l, &err), MILL_ENET);
    CHECK(strstr(err.msg, "http://127.0.0.1:1/api/datasets/org/ds/revision/main") != NULL);
    mill_hub_listing_free(&l);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_model_repo(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    const struct mill_hub_repo m = {MILL_HUB_MODEL, "org/model", "main"};
    CHECK_INT(mill_hub_download(h, &m, "config.json", NULL, &local, &err), 0);
    char *want = cache_path(cache, "models--org--model/snapshots/" C4 "/config.json");
    CHECK_STR(local, want);
    free(want);
    free(local);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_not_found(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    CHECK_INT(mill_hub_download(h, &DS, "nope.txt", NULL, &local, &err), MILL_ENOTFOUND);
    char want[512];
    snprintf(want, sizeof want,
             "dataset org/ds: file nope.txt not found at revision main (HTTP "
             "404 from http://127.0.0.1:%d/datasets/org/ds/resolve/main/nope.txt)",
             port);
    CHECK_STR(err.msg, want);
    CHECK(local == NULL);
    char *ne = cache_path(cache, "datasets--org--ds/.no_exist/" C1 "/nope.txt");
    CHECK(access(ne, F_OK) == 0); /* huggingface_hub's _CACHED_NO_EXIST marker */
    free(ne);
    const struct mill_hub_repo missing = {MILL_HUB_DATASET, "org/missing", NULL};
    CHECK_INT(mill_hub_download(h, &missing, "a.txt", NULL, &local, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "dataset org/missing") != NULL);
    const struct mill_hub_repo badrev = {MILL_HUB_DATASET, "org/ds", "nobranch"};
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_list(h, &badrev, NULL, &l, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "nobranch") != NULL);
    const struct mill_hub_repo evil = {MILL_HUB_DATASET, "org/ds", "../../x"};
    CHECK_INT(mill_hub_download(h, &evil, "a", NULL, &local, &err), MILL_EINVAL);
    CHECK_INT(mill_hub_download(h, &DS, "../a", NULL, &local, &err), MILL_EINVAL);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void auth_attempts(const char *cache, const struct mill_hub_repo *priv) {
    struct mill_err err = {0};
    char *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    CHECK_INT(mill_hub_download(h, priv, "weights.bin", NULL, &local, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HTTP 401") && strstr(err.msg, "no token was sent"));
    CHECK(strstr(err.msg, "HF_TOKEN") != NULL);
    mill_hub_free(h);
    h = hub_for(cache, "hf_wrong_token_456", false);
    CHECK_INT(mill_hub_download(h, priv, "weights.bin", NULL, &local, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HTTP 401") && strstr(err.msg, "a token was sent"));
    CHECK(strstr(err.msg, "hf_wrong_token_456") == NULL);
    mill_hub_free(h);
}

static void test_auth(void) {
    char *cache = new_cache(), *local = NULL;
    const struct mill_hub_repo priv = {MILL_HUB_DATASET, "org/private", NULL};
    char logpath[] = "/tmp/mill_hub_log_XXXXXX";
    int logfd = mkstemp(logpath), saved = dup(STDERR_FILENO);
    CHECK(logfd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(logfd, STDERR_FILENO); /* capture every log line at debug level */
    mill_log_set_level(MILL_LOG_DEBUG);
    auth_attempts(cache, &priv);
    ctl("reset=1");
    struct mill_hub *h = hub_for(cache, TOKEN, false);
    struct mill_err err = {0};
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_glob(h, &priv, "*.bin", &l, &err), 0);
    CHECK_INT(
        mill_hub_download(h, &priv, "weights.bin", l.n ? l.files[0].sha256 : NULL, &local, &err),
        0);
    size_t n = 0;
    char *data = local ? mtest_read_file(local, &n) : NULL;
    CHECK(data && n == 5000 && !memcmp(data, big, 5000));
    free(data);
    free(local);
    /* The Hub host saw the token on every request; the redirect host never did. */
    CHECK(nreq("host", "127.0.0.1") >= 3);
    CHECK_INT(n_auth_not("127.0.0.1", "Bearer " TOKEN), 0);
    CHECK(nreq("host", "localhost") >= 1);
    CHECK_INT(n_auth_not("localhost", ""), 0);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    mill_log_set_level(MILL_LOG_INFO);
    char *log = mtest_read_file(logpath, &n);
    CHECK(log && strstr(log, "GET http://127.0.0.1") != NULL); /* debug lines were written */
    CHECK(log && !strstr(log, TOKEN) && !strstr(log, "hf_wrong_token_456"));
    free(log);
    close(logfd);
    unlink(logpath);
    mill_hub_listing_free(&l);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void check_big(const char *local) {
    size_t n = 0;
    char *data = local ? mtest_read_file(local, &n) : NULL;
    CHECK(data && n == BIG_SIZE && !memcmp(data, big, BIG_SIZE));
    free(data);
}

/* Requests that fail in a way worth retrying (HTTP 429/5xx, a dropped connection) are asked
 * again: the revision, a listing page, a file's metadata, a download and a byte range. */
static void test_retry(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    struct mill_hub_listing l = {0};
    ctl("reset=1&page_size=3&fail=/revision/main&status=503&times=2"
        "&fail=cursor=3&status=0&times=1");
    CHECK_INT(mill_hub_list(h, &DS, NULL, &l, &err), 0);
    CHECK_INT(l.n, 13);
    CHECK_INT(nreq("path", "/revision/main"), 3);
    CHECK_INT(nreq("path", "cursor=3"), 2); /* the dropped page asked again */
    mill_hub_listing_free(&l);
    ctl("reset=1&fail=/resolve/main/big.bin&status=502&times=1&fail=/cdn/&status=500&times=1");
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    check_big(local);
    CHECK_INT(nreq2("method", "HEAD", "path", "big.bin"), 2);
    CHECK_INT(nreq2("host", "localhost", "path", "big.bin"), 2);
    free(local);
    mill_hub_free(h);
    rm_rf(cache);
    h = hub_for(cache, NULL, false);
    static char buf[100];
    size_t got = 0;
    ctl("reset=1&fail=big.bin&status=504&times=2");
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", 0, 100, buf, &got, &err), 0);
    CHECK(got == 100 && !memcmp(buf, big, 100));
    /* Retry-After (seconds) is the wait; the attempts spent, the last answer is the error. */
    ctl("reset=1&fail=/revision/main&status=429&times=1&retry_after=1");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(mill_hub_list(h, &DS, "data", &l, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >= 0.9);
    mill_hub_listing_free(&l);
    /* ... for a download and a byte range too (answered by the CDN the Hub redirects to) */
    rm_rf(cache);
    ctl("reset=1&fail=/cdn/&status=429&times=1&retry_after=1");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check_big(local);
    free(local);
    CHECK((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >= 0.9);
    rm_rf(cache); /* a cached file would be read instead */
    ctl("reset=1&fail=big.bin&status=503&times=1&retry_after=1");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", 0, 100, buf, &got, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(got == 100 && !memcmp(buf, big, 100));
    CHECK((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >= 0.9);
    ctl("reset=1&fail=/revision/main&status=503&times=10");
    CHECK_INT(mill_hub_list(h, &DS, NULL, &l, &err), MILL_ENET);
    CHECK(strstr(err.msg, "HTTP 503") != NULL);
    CHECK_INT(nreq("path", "/revision/main"), 4); /* 1 + max_retries */
    mill_hub_listing_free(&l);
    ctl("reset=1&fail=/revision/main&status=404&times=1");
    CHECK_INT(mill_hub_list(h, &DS, NULL, &l, &err), MILL_ENOTFOUND); /* not retried */
    CHECK_INT(nreq("path", "/revision/main"), 1);
    mill_hub_listing_free(&l);
    /* A stop signal during the wait ends the call (in a child: a stop request stays filed). */
    ctl("reset=1&fail=/revision/main&status=503&times=1&retry_after=30");
    pid_t pid = fork();
    if (pid == 0) {
        mill_stop_request(2);
        int rc = mill_hub_list(h, &DS, NULL, &l, &err);
        _exit(rc == MILL_EINTR && strstr(err.msg, "stopped by signal 2") ? 0 : 1);
    }
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ctl("reset=1");
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_resume(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    ctl("reset=1&drop=big.bin&after=100000&times=1");
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    check_big(local);
    CHECK_INT(nreq2("host", "localhost", "range", "bytes=100000-"), 1); /* resumed */
    free(local);
    mill_hub_free(h);
    rm_rf(cache);
    /* A server that answers a Range request with 200: the download restarts from byte 0. */
    ctl("reset=1&drop=big.bin&after=50000&times=1&norange=big.bin");
    h = hub_for(cache, NULL, false);
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    check_big(local);
    CHECK_INT(nreq2("host", "localhost", "range", "bytes=50000-"), 1);
    free(local);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_resume_later(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_with(cache, NULL, false, 0);
    struct mill_err err = {0};
    ctl("reset=1&drop=big.bin&after=120000&times=1");
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), MILL_ENET);
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/datasets/org/ds/resolve/" C1 "/big.bin", port);
    CHECK(strstr(err.msg, url) != NULL);
    CHECK(local == NULL);
    char sha[65], rel[256];
    sha_hex(big, BIG_SIZE, sha);
    snprintf(rel, sizeof rel, "datasets--org--ds/blobs/%s.incomplete", sha);
    char *inc = cache_path(cache, rel);
    struct stat st;
    CHECK(stat(inc, &st) == 0 && st.st_size > 0 && st.st_size < BIG_SIZE); /* kept */
    char *snaps = cache_path(cache, "datasets--org--ds/snapshots");
    CHECK_INT(count_dir(snaps), 0);
    ctl("reset=1");
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    check_big(local);
    char range[64];
    snprintf(range, sizeof range, "bytes=%lld-", (long long)st.st_size);
    CHECK_INT(nreq2("host", "localhost", "range", range), 1); /* the kept partial resumes */
    CHECK(access(inc, F_OK) != 0);
    free(local);
    free(inc);
    free(snaps);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_checksum(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    unsigned char good[1000];
    char want[65], got[65];
    fill(good, sizeof good, 8 + 7); /* bad.bin is the ninth file of build_repos */
    sha_hex(good, sizeof good, want);
    good[0] ^= 0xFF;
    sha_hex(good, sizeof good, got);
    ctl("reset=1&corrupt=bad.bin");
    CHECK_INT(mill_hub_download(h, &DS, "bad.bin", NULL, &local, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "bad.bin") && strstr(err.msg, want) && strstr(err.msg, got));
    char *blobs = cache_path(cache, "datasets--org--ds/blobs");
    char *snaps = cache_path(cache, "datasets--org--ds/snapshots");
    CHECK_INT(count_dir(blobs), 0);
    CHECK_INT(count_dir(snaps), 0);
    /* An expected sha256 from the caller is checked too. */
    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = 0;
    CHECK_INT(mill_hub_download(h, &DS, "README.md", zeros, &local, &err), MILL_EFORMAT);
    CHECK(strstr(err.msg, "README.md") && strstr(err.msg, zeros));
    CHECK_INT(count_dir(blobs), 0);
    CHECK_INT(count_dir(snaps), 0);
    ctl("reset=1");
    free(blobs);
    free(snaps);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

static void test_offline(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    CHECK_INT(mill_hub_download(h, &DS, "README.md", NULL, &local, &err), 0);
    free(local);
    CHECK_INT(mill_hub_download(h, &DS, "data/train-0.tar", NULL, &local, &err), 0);
    free(local);
    mill_hub_free(h);
    h = hub_for(cache, NULL, true);
    ctl("reset=1");
    CHECK_INT(mill_hub_download(h, &DS, "README.md", NULL, &local, &err), 0);
    char *want = cache_path(cache, "datasets--org--ds/snapshots/" C1 "/README.md");
    CHECK_STR(local, want);
    free(want);
    free(local);
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_glob(h, &DS, "data/*.tar", &l, &err), 0);
    CHECK_INT(l.n, 1); /* only what is cached */
    CHECK_STR(l.commit, C1);
    mill_hub_listing_free(&l);
    /* a temporary a crash left in the snapshot is no file of the repo */
    char *tmpname = cache_path(cache, "datasets--org--ds/snapshots/" C1 "/data/x.tar.tmp99.0");
    write_file(tmpname, "x", 1);
    CHECK_INT(mill_hub_list(h, &DS, "data", &l, &err), 0);
    CHECK_INT(l.n, 1);
    mill_hub_listing_free(&l);
    free(tmpname);
    CHECK_INT(mill_hub_download(h, &DS, "data/train-1.tar", NULL, &local, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HF_HUB_OFFLINE") && strstr(err.msg, "data/train-1.tar"));
    const struct mill_hub_repo other = {MILL_HUB_DATASET, "org/other", NULL};
    CHECK_INT(mill_hub_download(h, &other, "a.txt", NULL, &local, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HF_HUB_OFFLINE") && strstr(err.msg, "a.txt"));
    CHECK_INT(mill_hub_list(h, &other, NULL, &l, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HF_HUB_OFFLINE") != NULL);
    mill_hub_listing_free(&l);
    CHECK_INT(nreq("method", ""), 0); /* offline: not a single request */
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

/* A cache written the way huggingface_hub writes it (refs without a newline, blobs by etag,
 * relative links) is used as is, online and offline, with no request. */
static void test_prepopulated(void) {
    char *cache = new_cache(), *local = NULL;
    const char *commit = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    const char *content = "cached by python\n";
    char sha[65], rel[512];
    sha_hex(content, strlen(content), sha);
    snprintf(rel, sizeof rel, "%s/datasets--org--pre/blobs/%s", cache, sha);
    write_file(rel, content, strlen(content));
    snprintf(rel, sizeof rel, "%s/datasets--org--pre/refs/main", cache);
    write_file(rel, commit, 40);
    snprintf(rel, sizeof rel, "%s/datasets--org--pre/snapshots/%s/dir/f.txt", cache, commit);
    write_file(rel, "", 0);
    unlink(rel);
    char target[128];
    snprintf(target, sizeof target, "../../../blobs/%s", sha);
    CHECK(symlink(target, rel) == 0);
    ctl("reset=1");
    for (int offline = 0; offline < 2; offline++) {
        struct mill_hub *h = hub_for(cache, NULL, offline);
        struct mill_err err = {0};
        const struct mill_hub_repo pre = {MILL_HUB_DATASET, "org/pre", "main"};
        const struct mill_hub_repo pin = {MILL_HUB_DATASET, "org/pre", commit};
        CHECK_INT(mill_hub_download(h, &pre, "dir/f.txt", NULL, &local, &err), 0);
        CHECK_STR(local, rel);
        free(local);
        CHECK_INT(mill_hub_download(h, &pin, "dir/f.txt", NULL, &local, &err), 0);
        CHECK_STR(local, rel);
        size_t n = 0;
        char *data = local ? mtest_read_file(local, &n) : NULL;
        CHECK(data && n == strlen(content) && !memcmp(data, content, n));
        free(data);
        free(local);
        mill_hub_free(h);
    }
    CHECK_INT(nreq("method", ""), 0);
    rm_rf(cache);
    free(cache);
}

/* Byte ranges: from the Hub (an LFS file through the CDN redirect, a plain file from the Hub
 * itself), the end of a file, a server ignoring Range, errors; nothing written to the cache. */
static void range_online(struct mill_hub *h, const char *cache) {
    struct mill_err err = {0};
    static char buf[8192];
    size_t got = 0;
    ctl("reset=1");
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", 1000, 5000, buf, &got, &err), 0);
    CHECK_INT(got, 5000);
    CHECK(!memcmp(buf, big + 1000, 5000));
    CHECK_INT(nreq2("path", "/resolve/main/big.bin", "range", "bytes=1000-5999"), 1);
    CHECK_INT(nreq2("host", "localhost", "range", "bytes=1000-5999"), 1); /* the CDN too */
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", BIG_SIZE - 100, 1000, buf, &got, &err), 0);
    CHECK(got == 100 && !memcmp(buf, big + BIG_SIZE - 100, 100));
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", BIG_SIZE, 10, buf, &got, &err), 0);
    CHECK_INT(got, 0);
    CHECK_INT(mill_hub_read_range(h, &DS, "README.md", 6, 100, buf, &got, &err), 0);
    CHECK(got == 7 && !memcmp(buf, "readme\n", 7));
    CHECK_INT(mill_hub_read_range(h, &DS, "nope.bin", 0, 10, buf, &got, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "nope.bin") && strstr(err.msg, "HTTP 404"));
    const struct mill_hub_repo priv = {MILL_HUB_DATASET, "org/private", NULL};
    CHECK_INT(mill_hub_read_range(h, &priv, "weights.bin", 0, 10, buf, &got, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "HTTP 401") != NULL);
    ctl("reset=1&norange=big.bin");
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", 0, 100, buf, &got, &err), MILL_EUNSUPPORTED);
    CHECK(strstr(err.msg, "HTTP 200") != NULL);
    CHECK_INT(got, 0);
    CHECK_INT(mill_hub_read_range(h, &DS, "big.bin", -1, 10, buf, &got, &err), MILL_EINVAL);
    CHECK_INT(mill_hub_read_range(h, &DS, "../big.bin", 0, 10, buf, &got, &err), MILL_EINVAL);
    ctl("reset=1");
    char *blobs = cache_path(cache, "datasets--org--ds/blobs");
    char *snaps = cache_path(cache, "datasets--org--ds/snapshots");
    CHECK_INT(count_dir(blobs), 0);
    CHECK_INT(count_dir(snaps), 0);
    free(blobs);
    free(snaps);
    struct mill_hub *t = hub_for(cache, TOKEN, false);
    CHECK_INT(mill_hub_read_range(t, &priv, "weights.bin", 10, 20, buf, &got, &err), 0);
    CHECK(got == 20 && !memcmp(buf, big + 10, 20));
    CHECK_INT(n_auth_not("127.0.0.1", "Bearer " TOKEN), 0);
    CHECK_INT(n_auth_not("localhost", ""), 0); /* the token stays off the redirect host */
    mill_hub_free(t);
}

/* Bytes of a cached file come from it, with no request, online and offline; offline, a file
 * not cached is MILL_ENOTFOUND without a request. */
static void range_cached(const char *cache) {
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    char *local = NULL, buf[64];
    size_t got = 0;
    CHECK_INT(mill_hub_download(h, &DS, "big.bin", NULL, &local, &err), 0);
    free(local);
    ctl("reset=1");
    for (int offline = 0; offline < 2; offline++) {
        struct mill_hub *o = offline ? hub_for(cache, NULL, true) : h;
        CHECK_INT(mill_hub_read_range(o, &DS, "big.bin", 777, sizeof buf, buf, &got, &err), 0);
        CHECK(got == sizeof buf && !memcmp(buf, big + 777, sizeof buf));
        CHECK_INT(mill_hub_read_range(o, &DS, "big.bin", BIG_SIZE - 4, 10, buf, &got, &err), 0);
        CHECK(got == 4 && !memcmp(buf, big + BIG_SIZE - 4, 4));
        if (offline) {
            CHECK_INT(mill_hub_read_range(o, &DS, "README.md", 0, 10, buf, &got, &err),
                      MILL_ENOTFOUND);
            CHECK(strstr(err.msg, "HF_HUB_OFFLINE") && strstr(err.msg, "README.md"));
            mill_hub_free(o);
        }
    }
    CHECK_INT(nreq("method", ""), 0);
    mill_hub_free(h);
}

static void test_read_range(void) {
    char *cache = new_cache();
    struct mill_hub *h = hub_for(cache, NULL, false);
    range_online(h, cache);
    mill_hub_free(h);
    range_cached(cache);
    rm_rf(cache);
    free(cache);
}

static void parquet_case(struct mill_hub *h, const char *cfg, const char *split, const char *first,
                         const char *commit) {
    struct mill_hub_listing l = {0};
    struct mill_err err = {0};
    CHECK_INT(mill_hub_parquet_files(h, &DS, cfg, split, &l, &err), 0);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.n ? l.files[0].path : "", first);
    CHECK_STR(l.commit, commit);
    mill_hub_listing_free(&l);
}

static void test_parquet_files(void) {
    char *cache = new_cache(), *local = NULL;
    struct mill_hub *h = hub_for(cache, NULL, false);
    struct mill_err err = {0};
    parquet_case(h, NULL, "test", "default/test-00000-of-00001.parquet", C1);
    parquet_case(h, "other", "test", "other/test/0000.parquet", C1);
    parquet_case(h, "nocfg", "validation", "data/validation-00000.parquet", C1);
    parquet_case(h, "cfgx", "test", "cfgx/test/0000.parquet", C2); /* refs/convert/parquet */
    const struct mill_hub_repo conv = {MILL_HUB_DATASET, "org/ds", C2};
    CHECK_INT(mill_hub_download(h, &conv, "cfgx/test/0000.parquet", NULL, &local, &err), 0);
    char *want = cache_path(cache, "datasets--org--ds/snapshots/" C2 "/cfgx/test/0000.parquet");
    CHECK_STR(local, want);
    free(want);
    free(local);
    char *ref = cache_path(cache, "datasets--org--ds/refs/refs/convert/parquet");
    size_t n = 0;
    char *text = mtest_read_file(ref, &n);
    CHECK(text && n == 40 && !memcmp(text, C2, 40));
    free(text);
    free(ref);
    struct mill_hub_listing l = {0};
    CHECK_INT(mill_hub_parquet_files(h, &DS, "zzz", "test", &l, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "zzz/test-*.parquet") && strstr(err.msg, "data/test-*.parquet"));
    mill_hub_listing_free(&l);
    /* a pinned revision never falls back to the auto-converted Parquet (of main's head) */
    const struct mill_hub_repo pinned = {MILL_HUB_DATASET, "org/ds", C1};
    CHECK_INT(mill_hub_parquet_files(h, &pinned, "cfgx", "test", &l, &err), MILL_ENOTFOUND);
    CHECK(strstr(err.msg, "not used for a pinned revision") != NULL);
    mill_hub_listing_free(&l);
    mill_hub_free(h);
    rm_rf(cache);
    free(cache);
}

MTEST_MAIN(MTEST(test_glob_match), MTEST(test_data_file_wanted), MTEST(test_parse_url),
           MTEST(test_parse_listing), MTEST(test_default_params), MTEST(test_start_fake_hub),
           MTEST(test_list_and_glob), MTEST(test_download_layout), MTEST(test_cache_hit),
           MTEST(test_model_repo), MTEST(test_not_found), MTEST(test_unreachable), MTEST(test_auth),
           MTEST(test_resume), MTEST(test_retry), MTEST(test_resume_later), MTEST(test_checksum),
           MTEST(test_offline), MTEST(test_prepopulated), MTEST(test_read_range),
           MTEST(test_parquet_files), MTEST(test_stop_fake_hub))
