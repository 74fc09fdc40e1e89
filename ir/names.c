/* names.c — names (of nodes, values, inputs, attributes) as they may be shown: C-style escaped, so a
 * name holding a newline or a terminal escape cannot forge output lines or reach a terminal raw, and
 * (in messages) shortened, so a 1 MB name does not become a 1 MB message. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* one byte's escape into e (at most 4 bytes + NUL); all_bytes: for a C string literal, also bytes
 * >= 0x80 and '?' */
static size_t esc_byte(unsigned char c, bool all_bytes, char e[6]) {
  switch (c) {
  case '\n': return (size_t)snprintf(e, 6, "\\n");
  case '\t': return (size_t)snprintf(e, 6, "\\t");
  case '\r': return (size_t)snprintf(e, 6, "\\r");
  case '\\': return (size_t)snprintf(e, 6, "\\\\");
  case '"': return (size_t)snprintf(e, 6, "\\\"");
  default: break;
  }
  if (c == '?' && all_bytes) return (size_t)snprintf(e, 6, "\\?"); /* "??x" is a trigraph in -std=c11 */
  /* octal with three digits: unlike \x, it cannot swallow a following hex digit */
  if (c < 0x20 || c == 0x7f || (all_bytes && c >= 0x80)) return (size_t)snprintf(e, 6, "\\%03o", c);
  e[0] = (char)c;
  e[1] = 0;
  return 1;
}

static size_t escape(const char *s, char *out, size_t cap, bool all_bytes) {
  size_t o = 0, kept = 0; /* kept: bytes written, whole escapes only */
  char e[6];
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    size_t k = esc_byte(*p, all_bytes, e);
    if (kept == o && o + k < cap) memcpy(out + o, e, k), kept += k;
    o += k;
  }
  if (cap) out[kept] = 0;
  return o;
}

size_t ir_name_escape(const char *s, char *out, size_t cap) { return escape(s, out, cap, false); }

size_t ir_name_escape_c(const char *s, char *out, size_t cap) { return escape(s, out, cap, true); }

/* bytes of s that fit (escaped) in room; stops before a UTF-8 continuation byte so a character
 * is not cut in half */
static size_t head_len(const char *s, size_t room) {
  size_t used = 0, i = 0;
  char e[6];
  while (s[i]) {
    size_t k = esc_byte((unsigned char)s[i], false, e);
    if (used + k > room) break;
    used += k;
    i++;
  }
  while (i && ((unsigned char)s[i] & 0xc0) == 0x80) i--;
  return i;
}

const char *ir_name_msg(const char *s, char *buf, size_t len) {
  if (!s) s = "";
  if (len < 32 || ir_name_escape(s, buf, len) < len) return buf;
  /* too long: the head, then how many bytes the name has */
  char tail[32];
  int t = snprintf(tail, sizeof tail, "...(%zu bytes)", strlen(s));
  size_t h = head_len(s, len - 1 - (size_t)t);
  char *part = buf; /* escape the head in place: it fits by construction */
  size_t o = 0;
  char e[6];
  for (size_t i = 0; i < h; i++) {
    size_t k = esc_byte((unsigned char)s[i], false, e);
    memcpy(part + o, e, k);
    o += k;
  }
  memcpy(part + o, tail, (size_t)t + 1);
  return buf;
}

/* escapes the control bytes of a finished message in place (cut to cap - 1 bytes): the sink of
 * every error message, so no name reaches a terminal or a log raw, whatever the format string did */
void ir_msg_escape(char *buf, size_t cap) {
  if (!cap) return;
  size_t n = strlen(buf), fit = 0, out = 0;
  char e[6];
  while (fit < n) { /* how many source bytes fit once escaped */
    size_t k = esc_byte((unsigned char)buf[fit], false, e);
    if (buf[fit] == '\\' || buf[fit] == '"') k = 1; /* a message's own quotes and backslashes stay */
    if (out + k > cap - 1) break;
    out += k;
    fit++;
  }
  buf[out] = 0;
  for (size_t i = fit, o = out; i-- > 0;) { /* back to front: the source is never overwritten unread */
    unsigned char c = (unsigned char)buf[i];
    size_t k = c == '\\' || c == '"' ? 1 : esc_byte(c, false, e);
    if (k == 1) e[0] = (char)c;
    o -= k;
    memmove(buf + o, e, k);
  }
}
