/* llama_rpc.c: llama.cpp RPC servers as ggml devices (see llama_rpc.h).
 *
 * llama.cpp's own `--rpc` finds the RPC backend by name, fetches `ggml_backend_rpc_add_server`
 * through the registry's proc-address table and registers one backend per server; we do the
 * same, so Mill links against no RPC symbol and a build without GGML_RPC gets a clear error.
 * ggml's client parses "host:port" (host up to the first ':', IPv4 through gethostbyname) and
 * calls GGML_ABORT when it cannot connect, so each endpoint is checked here first. */
#include "backend/llama_rpc.h"

#include "core/log.h"

#include <ggml-backend.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void mill_rpc_free(char **eps, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(eps[i]);
    free(eps);
}

static int check_endpoint(const char *ep, struct mill_err *err) {
    const char *colon = strchr(ep, ':');
    const char *port = colon ? colon + 1 : "";
    long v = 0;
    size_t digits = strspn(port, "0123456789");
    if (digits && digits == strlen(port) && digits <= 5)
        v = strtol(port, NULL, 10);
    if (!colon || colon == ep || v < 1 || v > 65535)
        return mill_err_set(err, MILL_EINVAL,
                            "rpc server '%s' is not host:port (port 1-65535; "
                            "separate several servers with ';')",
                            ep);
    return 0;
}

int mill_rpc_parse(const char *servers, char ***out, size_t *n, struct mill_err *err) {
    *out = NULL;
    *n = 0;
    const char *sep = "; \t,";
    size_t cap = 0;
    int rc = 0;
    for (const char *p = servers; *p && !rc;) {
        p += strspn(p, sep);
        size_t len = strcspn(p, sep);
        if (!len)
            break;
        char *ep = strndup(p, len);
        char **grown = *n == cap ? realloc(*out, (cap = cap ? 2 * cap : 4) * sizeof *grown) : *out;
        if (!ep || !grown) {
            free(ep);
            rc = mill_err_set(err, MILL_ENOMEM, "out of memory");
            break;
        }
        *out = grown;
        (*out)[(*n)++] = ep;
        rc = check_endpoint(ep, err);
        p += len;
    }
    if (!rc && !*n)
        rc = mill_err_set(err, MILL_EINVAL, "rpc= names no server (expected host:port)");
    if (rc) {
        mill_rpc_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* A TCP connection to ep within timeout_ms, closed again at once. */
static int probe(const char *ep, int timeout_ms, struct mill_err *err) {
    const char *colon = strchr(ep, ':');
    char host[256];
    size_t hl = (size_t)(colon - ep);
    if (hl >= sizeof host)
        return mill_err_set(err, MILL_EINVAL, "rpc server '%s': host name too long", ep);
    memcpy(host, ep, hl);
    host[hl] = 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai)
        return mill_err_set(err, MILL_ENET, "rpc server %s: cannot resolve '%s': %s", ep, host,
                            gai_strerror(gai));
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), e = errno;
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        e = connect(fd, ai->ai_addr, ai->ai_addrlen) ? errno : 0;
        if (e == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int r = poll(&pf, 1, timeout_ms);
            socklen_t sl = sizeof e;
            if (r == 0)
                e = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl))
                e = errno;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    if (e)
        return mill_err_set(err, MILL_ENET,
                            "cannot reach rpc server %s: %s (is "
                            "ggml-rpc-server running there?)",
                            ep, strerror(e));
    return 0;
}

typedef ggml_backend_reg_t (*add_server_fn)(const char *endpoint);

/* Endpoints registered with ggml in this process and their backends: registration is
 * process-wide, so a second model does not add them twice, and models choose their devices. */
static struct attached {
    char *ep;
    ggml_backend_reg_t reg;
} * done;
static size_t n_done;

static ggml_backend_reg_t attached_reg(const char *ep) {
    for (size_t j = 0; j < n_done; j++)
        if (!strcmp(done[j].ep, ep))
            return done[j].reg;
    return NULL;
}

size_t mill_local_gpus(ggml_backend_dev_t *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t d = ggml_backend_dev_get(i);
        enum ggml_backend_dev_type t = ggml_backend_dev_type(d);
        const char *reg = ggml_backend_reg_name(ggml_backend_dev_backend_reg(d));
        if ((t == GGML_BACKEND_DEVICE_TYPE_GPU || t == GGML_BACKEND_DEVICE_TYPE_IGPU) &&
            strcmp(reg, "RPC")) {
            if (k < cap)
                out[k] = d;
            k++;
        }
    }
    return k;
}

ggml_backend_dev_t *mill_rpc_model_devices(char *const *eps, size_t n) {
    if (!n_done)
        return NULL;
    size_t cap = ggml_backend_dev_count() + 1;
    ggml_backend_dev_t *out = calloc(cap, sizeof *out);
    if (!out)
        return NULL;
    /* the local GPUs (at most the device count, cap - 1), then this model's servers */
    size_t k = mill_local_gpus(out, cap - 1);
    for (size_t e = 0; e < n; e++) {
        ggml_backend_reg_t reg = attached_reg(eps[e]);
        for (size_t i = 0; reg && i < ggml_backend_reg_dev_count(reg) && k + 1 < cap; i++)
            out[k++] = ggml_backend_reg_dev_get(reg, i);
    }
    return out;
}

int mill_rpc_attach(char *const *eps, size_t n, int timeout_ms, struct mill_err *err) {
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    add_server_fn add =
        rpc ? (add_server_fn)ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server")
            : NULL;
    if (!add)
        return mill_err_set(err, MILL_EUNSUPPORTED,
                            "rpc= needs llama.cpp built with "
                            "GGML_RPC=ON; this build has no RPC backend");
    /* ggml writes to the sockets without MSG_NOSIGNAL: a server that went away would kill us
     * with SIGPIPE, silently. Ignored, the write fails and ggml's abort path reports it. */
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < n; i++) {
        if (attached_reg(eps[i]))
            continue;
        int rc = probe(eps[i], timeout_ms, err);
        if (rc)
            return rc;
        struct attached *grown = realloc(done, (n_done + 1) * sizeof *grown);
        if (!grown)
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        done = grown;
        ggml_backend_reg_t reg = add(eps[i]);
        if (!reg || !ggml_backend_reg_dev_count(reg))
            return mill_err_set(err, MILL_EBACKEND,
                                "rpc server %s accepted the connection but "
                                "offers no device",
                                eps[i]);
        if (!(done[n_done].ep = strdup(eps[i])))
            return mill_err_set(err, MILL_ENOMEM, "out of memory");
        ggml_backend_register(reg);
        done[n_done++].reg = reg;
        MILL_INFO("llama", "rpc server %s: %zu device(s)", eps[i], ggml_backend_reg_dev_count(reg));
    }
    return 0;
}
