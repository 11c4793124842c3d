/*
 * copilot_core.h: the C ABI of copilot-hybrid's native core.
 *
 * This header is the single source of truth: Python's cffi cdef is read from
 * it (integer #defines kept, so Python reads lib.CH_*; other preprocessor
 * lines stripped) and a Zig test (src/root.zig) checks at compile time that
 * every function declared here is exported by the library with the same
 * shape, that every export is declared here, and that the Zig values of
 * every constant below equal these.
 *
 * cffi accepts "#define NAME <integer>" only: no parentheses, no
 * expressions (a negative literal such as -5 is fine).
 *
 * Rules:
 *  - integers, pointers and lengths only; the caller owns every buffer, or
 *    the library hands out an opaque handle that the caller frees with the
 *    matching *_free function;
 *  - a negative return value is a status code (CH_E_*); ch_last_error()
 *    gives a message for the calling thread's last failure;
 *  - no function aborts the process on any input.
 */
#ifndef COPILOT_CORE_H
#define COPILOT_CORE_H

#include <stdint.h>
#include <stddef.h>

#define CH_ABI_VERSION 1

#define CH_E_INVALID_ARGUMENT -1
#define CH_E_OUT_OF_MEMORY -2
#define CH_E_BUFFER_TOO_SMALL -3
#define CH_E_INVALID_DATA -4
#define CH_E_TOO_LARGE -5
/* Input the native side does not reproduce exactly (stream_translate). */
#define CH_E_UNSUPPORTED -6

/* ---- handshake --------------------------------------------------------- */

/* The ABI version this library was compiled with (CH_ABI_VERSION). */
uint32_t ch_abi_version(void);
/* sha256 (hex) of the zig/ sources the library was compiled from. */
const char *ch_source_digest(void);
/* The copilot-hybrid package version the library was built for. */
const char *ch_package_version(void);
/* Message for this thread's last failed call; "" when none. */
const char *ch_last_error(void);

/* ---- rate_limit ---------------------------------------------------------- */

/*
 * Decide one request against a one-request-per-interval limiter.
 * last_ms is the last granted slot (ignored when has_last == 0), now_ms the
 * caller's monotonic clock, interval_ms the minimum gap (<= 0: no limit),
 * wait_mode != 0 asks to queue instead of being rejected.
 * Returns CH_RATE_LIMIT_ALLOW, CH_RATE_LIMIT_WAIT (wait *out_delay_ms, then
 * go) or CH_RATE_LIMIT_REJECT (retry after *out_delay_ms); *out_new_last is
 * the state to store. Arithmetic saturates at the int64 range.
 */
#define CH_RATE_LIMIT_ALLOW 0
#define CH_RATE_LIMIT_WAIT 1
#define CH_RATE_LIMIT_REJECT 2

int32_t ch_rate_limit_decide(int64_t last_ms, int32_t has_last, int64_t now_ms,
                             int64_t interval_ms, int32_t wait_mode,
                             int64_t *out_delay_ms, int64_t *out_new_last);

/* ---- tokenizer ----------------------------------------------------------- */

/* Encodings: the `kind` of ch_tok_new and ch_tok_split. */
#define CH_TOK_CL100K_BASE 0
#define CH_TOK_O200K_BASE 1

/* An immutable BPE table; safe to share between threads once built. */
typedef struct ch_tokenizer ch_tokenizer;

/*
 * Builds a tokenizer from the bytes of a .tiktoken rank file (one
 * "base64(token) rank" line per token; the caller has checked its sha256).
 * On success stores the handle in *out and returns 0.
 */
int32_t ch_tok_new(uint32_t kind, const uint8_t *ranks, size_t ranks_len,
                   ch_tokenizer **out);
/* Frees a handle from ch_tok_new; NULL is ignored. */
void ch_tok_free(ch_tokenizer *tok);
/* Number of tokens of the UTF-8 text (special-token text is plain text). */
int64_t ch_tok_count(const ch_tokenizer *tok, const uint8_t *text, size_t len);
/*
 * Writes the token ids of text into out[0..cap) and returns how many there
 * are. cap >= len always suffices (every token covers at least one byte);
 * with a smaller cap, returns CH_E_BUFFER_TOO_SMALL.
 */
int64_t ch_tok_encode(const ch_tokenizer *tok, const uint8_t *text, size_t len,
                      uint32_t *out, size_t cap);
/*
 * Writes the bytes of the ordinary tokens tokens[0..n) into out[0..cap) and
 * returns the byte count. When that exceeds cap nothing is written and the
 * required size is returned, so the caller can retry with a larger buffer.
 * An id that is not an ordinary token gives CH_E_INVALID_DATA.
 */
int64_t ch_tok_decode(const ch_tokenizer *tok, const uint32_t *tokens, size_t n,
                      uint8_t *out, size_t cap);
/*
 * The pre-tokenizer alone (for verify): writes the end offset of each piece
 * of text under encoding kind into out_ends[0..cap) and returns the piece
 * count; CH_E_BUFFER_TOO_SMALL when cap is too small (cap >= len suffices).
 */
int64_t ch_tok_split(uint32_t kind, const uint8_t *text, size_t len,
                     uint32_t *out_ends, size_t cap);

/* ---- stream_translate ------------------------------------------------- */
/*
 * OpenAI chat-completion SSE bytes (as read from upstream, any split) in,
 * Anthropic Messages SSE event bytes out: the bytes the Python reference
 * sends. ch_st_feed and ch_st_finish return the size of the output that is
 * pending; when it fits in cap it is copied to out and taken, otherwise
 * nothing is written and it stays pending: call ch_st_feed(s, NULL, 0, out,
 * size) to take it. CH_E_UNSUPPORTED: the input is outside the native
 * side's scope (the caller replays the stream through the reference); after
 * any error the handle only returns CH_E_UNSUPPORTED.
 */
#define CH_ST_OPEN 0
#define CH_ST_DONE 1
#define CH_ST_ENDED 2

typedef struct ch_stream ch_stream;

/* A translator for one stream; model is the client's model (fallback name). */
int32_t ch_st_new(const uint8_t *model, size_t model_len, ch_stream **out);
/* Frees a handle from ch_st_new; NULL is ignored. */
void ch_st_free(ch_stream *s);
/* CH_ST_OPEN, CH_ST_DONE (message complete, upstream still read) or CH_ST_ENDED. */
int32_t ch_st_state(ch_stream *s);
/* One upstream read. */
int64_t ch_st_feed(ch_stream *s, const uint8_t *data, size_t len, uint8_t *out, size_t cap);
/* Upstream ended (EOF). */
int64_t ch_st_finish(ch_stream *s, uint8_t *out, size_t cap);

#endif
