/* llama_chat.h: a prompt through the model's own chat template, rendered as transformers'
 * apply_chat_template renders it (core/jinja.h), the way Python Mill builds it: one user turn,
 * its media first and then the text, with the generation prompt.
 *
 * With media, the content is the list of parts transformers' processors take ({"type":
 * "image", "image": path} / "audio", then {"type": "text"}), and each placeholder the template
 * writes for a medium before the text (Qwen2-VL's <|vision_start|><|image_pad|><|vision_end|>,
 * Qwen2-Audio's <|audio_bos|><|AUDIO|><|audio_eos|>, <image>, <start_of_image>, ...) becomes
 * libmtmd's marker, libmtmd adding the model's begin and end tokens around the embeddings
 * itself. A template that fails on list content, writes no placeholder we know, or prints the
 * content as a Python list, gets the markers at the start of a string content instead, as
 * llama-server does (one warning per chat). */
#ifndef MILL_BACKEND_LLAMA_CHAT_H
#define MILL_BACKEND_LLAMA_CHAT_H

#include <mill/buf.h>
#include <mill/doc.h>

struct mill_chat;

/* Parses tmpl. bos, eos and pad are the vocabulary's token texts (NULL when it has none),
 * handed to the template as bos_token, eos_token and pad_token (left undefined when NULL, as
 * transformers leaves a token the tokenizer lacks). MILL_EFORMAT when the template does not
 * parse. */
int mill_chat_open(const char *tmpl, const char *bos, const char *eos, const char *pad,
                   struct mill_chat **out, struct mill_err *err);

/* Appends the prompt of one user turn: n_media media (each becoming marker in the text), then
 * text. MILL_EFORMAT when the template fails on it (its own raise_exception included). Safe
 * to call from several threads at once. */
int mill_chat_user_turn(struct mill_chat *c, const char *text, const struct mill_media *media,
                        size_t n_media, const char *marker, struct mill_buf *out,
                        struct mill_err *err);

void mill_chat_free(struct mill_chat *c); /* NULL-safe */

#endif
