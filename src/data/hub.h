/* hub.h: the Hugging Face Hub client: list a repo's files, resolve a revision to a commit,
 * download files into the huggingface_hub cache layout (so Python and Mill share downloads),
 * read a byte range of a file without downloading it (a GGUF header), and resolve hf:// globs
 * and a config's Parquet files. hub.c is the only code that talks to the Hub (ARCHITECTURE.md
 * §2.8, BEHAVIOUR.md §7.5).
 *
 * Must not: send the token to any host but the endpoint's, or print it, log it or put it in an
 * error message; leave a partial or unverified file under blobs/ or snapshots/; make a single
 * request when offline.
 *
 * Cache layout (identical to huggingface_hub's, under params.cache_dir):
 *   datasets--org--name/refs/<revision>           the commit sha the revision resolved to
 *   datasets--org--name/blobs/<etag>              file bytes (etag = LFS sha256 or git sha1)
 *   datasets--org--name/blobs/<etag>.incomplete   a download in progress (resumable)
 *   datasets--org--name/snapshots/<commit>/<path> relative symlink to ../../blobs/<etag>
 *   datasets--org--name/.no_exist/<commit>/<path> empty: the Hub said 404 for this file
 *   .locks/datasets--org--name/<etag>.lock        flock(2) while a blob is written
 * and models--org--name/... for models. */
#ifndef MILL_DATA_HUB_H
#define MILL_DATA_HUB_H

#include <mill/mill.h>

enum mill_hub_repo_type { MILL_HUB_DATASET = 0, MILL_HUB_MODEL = 1 };

struct mill_hub_params {
    char endpoint[512];       /* $HF_ENDPOINT, else https://huggingface.co; no trailing '/' */
    char token[512];          /* $HF_TOKEN, else the file $HF_HOME/token; "" = anonymous */
    char cache_dir[4096];     /* $HF_HUB_CACHE, else $HF_HOME/hub, else
                                * ~/.cache/huggingface/hub ($HF_HOME defaults to
                                * $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface) */
    bool offline;             /* $HF_HUB_OFFLINE is 1/true/yes/on: no request at all */
    bool progress;            /* a progress bar on stderr; default: stderr is a TTY */
    int max_retries;          /* retries of a request after a dropped connection or HTTP 429/5xx
                               * (a download resumes); default 3 */
    long retry_wait_ms;       /* first wait before a retry, doubled each time (a Retry-After,
                               * up to 60 s, wins); default 500 */
    long connect_timeout_s;   /* default 10 */
    long stall_timeout_s;     /* abort a transfer slower than 1 byte/s for this long; 60 */
    size_t max_listing_bytes; /* cap on one listing page's JSON; default 64 MiB */
};

/* A repo at a revision. All pointers borrowed for the duration of the call. */
struct mill_hub_repo {
    enum mill_hub_repo_type type;
    const char *id;       /* "org/name" */
    const char *revision; /* branch, tag, "refs/convert/parquet" or 40-hex commit; NULL=main */
};

struct mill_hub_file {
    char *path;      /* repo-relative, '/'-separated; owned */
    int64_t size;    /* bytes of the file itself (for LFS the object, not the pointer);
                        * -1 when unknown */
    char oid[41];    /* git blob sha1 in hex, "" when unknown */
    char sha256[65]; /* LFS object sha256 in hex, "" when not an LFS file or unknown */
};

struct mill_hub_listing {
    struct mill_hub_file *files; /* owned; sorted by path when a mill_hub_* call returns it */
    size_t n, cap;
    char commit[41]; /* the commit the files were listed at; "" when unknown */
};

/* The parts of an hf:// URL: hf://datasets/<org>/<name>[@<rev>]/<path> (a dataset) or
 * hf://<org>/<name>[@<rev>]/<path> (a model). <rev> may be percent-encoded
 * (refs%2Fconvert%2Fparquet) or a plain refs/convert/<x> or refs/pr/<n>. */
struct mill_hub_url {
    enum mill_hub_repo_type type;
    char id[256];
    char revision[256]; /* "main" when the URL has none */
    bool has_revision;  /* the URL names one (@<rev>) */
    char path[2048];    /* the path or glob inside the repo; never empty */
};

struct mill_hub;

/* Defaults from the environment, as documented on each field above. */
struct mill_hub_params mill_hub_default_params(void);
/* Creates a client (one connection cache; not thread-safe: one per thread). MILL_EINVAL for a
 * bad endpoint or empty cache dir, MILL_ENOMEM. Free with mill_hub_free (NULL-safe). */
int mill_hub_init(struct mill_hub **hub, const struct mill_hub_params *params,
                  struct mill_err *err);
void mill_hub_free(struct mill_hub *hub);

/* Every request is asked again, up to max_retries times with a doubling wait, after a dropped
 * or refused connection or HTTP 429, 500, 502, 503 or 504; a stop signal (SIGINT, SIGTERM) during
 * a wait or a download ends the call with MILL_EINTR. */

/* Resolves repo->revision to a commit sha (41 bytes with the NUL) and records it in
 * refs/<revision>. A 40-hex revision is returned as is with no request; offline reads refs/.
 * MILL_ENOTFOUND (no such repo or revision, 401/403, or offline and not cached), MILL_ENET,
 * MILL_EFORMAT (an answer without a sha), MILL_EIO (cannot write refs/). */
int mill_hub_resolve_revision(struct mill_hub *hub, const struct mill_hub_repo *repo,
                              char commit[41], struct mill_err *err);

/* Lists the files under prefix (NULL or "" = the whole repo), recursively, at the commit
 * repo->revision resolves to (out->commit). Online: the tree API, following Link: rel="next"
 * pages. Offline: the files present in snapshots/<commit>/. Appends to *out (zero it first;
 * free with mill_hub_listing_free even on error). Errors as mill_hub_resolve_revision. */
int mill_hub_list(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *prefix,
                  struct mill_hub_listing *out, struct mill_err *err);

/* Downloads path at repo->revision into the cache and sets *local_path to its snapshot path
 * (caller frees). No request when refs/<revision> (or a commit revision) and the snapshot
 * file already exist. sha256: the expected LFS sha256 (64 hex, from a listing) or NULL, in
 * which case an etag that is a sha256 is used; the bytes are verified before they are renamed
 * into blobs/. Returns MILL_ENOTFOUND (404, 401/403, or offline and not cached), MILL_ENET
 * (connection failed or dropped more than max_retries times; the partial file is kept and a
 * later call resumes it), MILL_EFORMAT (checksum or size mismatch: nothing is kept), MILL_EIO,
 * MILL_EINVAL (unsafe id, revision or path). */
int mill_hub_download(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *path,
                      const char *sha256, char **local_path, struct mill_err *err);

/* Reads up to len bytes of path at repo->revision from byte offset into buf; *got receives the
 * count, less than len only where the file ends (0 at or past its end). From the cached file
 * when it is there (no request), else with one GET carrying Range: bytes=offset-(offset+len-1),
 * following redirects (the token as for downloads), never downloading the whole file: a server
 * that answers 200 to the Range request is stopped at its first bytes. Writes nothing to the
 * cache and verifies nothing (the bytes are a hint, such as a file's header; downloads are what
 * is checked). Returns MILL_ENOTFOUND (404, 401/403, or offline and not cached), MILL_ENET
 * (connection failed, HTTP 5xx), MILL_EUNSUPPORTED (the server ignores Range requests),
 * MILL_EFORMAT (it answered other bytes than asked), MILL_EIO (the cached file cannot be read),
 * MILL_EINVAL (unsafe id, revision or path, a negative offset). */
int mill_hub_read_range(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *path,
                        int64_t offset, size_t len, void *buf, size_t *got, struct mill_err *err);

/* Files matching pattern (mill_hub_glob_match, mill_hub_data_file_wanted) at repo->revision, sorted; out->commit is set
 * so the caller downloads them at that commit. Lists only below the pattern's fixed directory
 * prefix. MILL_ENOTFOUND when nothing matches, else errors as mill_hub_list. */
int mill_hub_glob(struct mill_hub *hub, const struct mill_hub_repo *repo, const char *pattern,
                  struct mill_hub_listing *out, struct mill_err *err);

/* The Parquet files of config (NULL/"" = "default") and split: the first pattern that matches
 * at repo->revision of (1) <config>/<split>-*.parquet, (2) *.parquet in directory
 * <config>/<split>, (3) data/<split>-*.parquet; else (2) at the Hub's auto-converted
 * refs/convert/parquet. out->commit is the commit to download them at. MILL_ENOTFOUND when
 * none match (the message lists the patterns tried). */
int mill_hub_parquet_files(struct mill_hub *hub, const struct mill_hub_repo *repo,
                           const char *config, const char *split, struct mill_hub_listing *out,
                           struct mill_err *err);

/* Whether id can be a Hub repo id ("name" or "org/name" of letters, digits, '-', '_', '.',
 * no "..", under 200 bytes). */
bool mill_hub_repo_id_ok(const char *id);

/* Parses an hf:// URL. MILL_EINVAL (message names the URL) when it is not one. */
int mill_hub_parse_url(const char *url, struct mill_hub_url *out, struct mill_err *err);
/* Parses url and globs its path (Mill's hf_data_files); out->commit as mill_hub_glob. */
int mill_hub_resolve_url(struct mill_hub *hub, const char *url, struct mill_hub_listing *out,
                         struct mill_err *err);

/* Glob match of a repo path: '*' and '?' and [...] ([!...] negates) stay inside one path
 * segment, '**' matches across '/', and "**" followed by '/' also matches no directory. */
bool mill_hub_glob_match(const char *pattern, const char *path);

/* Whether a path pattern matched is a data file HF datasets keeps (resolve_pattern): not a
 * README.md, config.json, dataset_info(s).json, dataset_dict.json or dummy_data.zip unless the
 * pattern names that file, as many hidden parts (".x") as the pattern has and as many special
 * directories ("__x") above the file as the pattern has above its last part. */
bool mill_hub_data_file_wanted(const char *pattern, const char *path);

/* Parses one page of the Hub's listing JSON and appends its files to *out: either the tree
 * API's array of {type, path, size, oid, lfs: {oid, size}} (directories skipped) or the
 * revision API's object {sha, siblings: [{rfilename, size, blobId, lfs}]}, whose sha sets
 * out->commit. MILL_EFORMAT (bad JSON, a missing or unsafe path such as "../x", a bad size or
 * LFS oid), MILL_ENOMEM. Untrusted input: fuzzed (tests/fuzz/fuzz_hub_json.c). */
int mill_hub_parse_listing(const char *json, size_t n, struct mill_hub_listing *out,
                           struct mill_err *err);
void mill_hub_listing_free(struct mill_hub_listing *l); /* frees the files; NULL-safe */

#endif
