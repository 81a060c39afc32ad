/* llama_rpc.h: llama.cpp RPC servers (`rpc=host:port;host:port`) as ggml devices for the llama
 * backend. Each server is checked (endpoint syntax, TCP reachability) before it is handed to
 * ggml, whose RPC client aborts the process on a server it cannot reach. */
#ifndef MILL_BACKEND_LLAMA_RPC_H
#define MILL_BACKEND_LLAMA_RPC_H

#include <mill/mill.h>

#include <ggml-backend.h>

#include <stddef.h>

/* Splits a server list on ';', whitespace or ',' into endpoints "host:port" (malloc'd array of
 * malloc'd strings in *out, count in *n), checking each endpoint's syntax. */
int mill_rpc_parse(const char *servers, char ***out, size_t *n, struct mill_err *err);
void mill_rpc_free(char **eps, size_t n);

/* Connects to every endpoint (timeout_ms each) and registers its devices with ggml, once per
 * endpoint per process; afterwards llama.cpp offloads layers to them like to local GPUs. */
int mill_rpc_attach(char *const *eps, size_t n, int timeout_ms, struct mill_err *err);

/* The devices a model should offload to once RPC servers are attached in this process: the
 * local GPUs plus the devices of eps (its own servers), NULL-terminated, malloc'd. NULL when
 * no server was ever attached (llama.cpp's default, every device, is then right) or out of
 * memory. Without it a model given no rpc= would offload to another model's servers. */
ggml_backend_dev_t *mill_rpc_model_devices(char *const *eps, size_t n);

/* The local GPUs (discrete or integrated; RPC servers' devices are not local) that ggml found,
 * up to cap of them in out (out may be NULL when cap is 0); returns how many there are. */
size_t mill_local_gpus(ggml_backend_dev_t *out, size_t cap);

#endif
