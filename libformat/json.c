/* json.c - a strict RFC 8259 validator for the VM configuration.
 *
 * vmrp stores the VM JSON verbatim and prints it inside its own JSON output,
 * so it must be exactly one valid value. Nesting is bounded so that hostile
 * input cannot exhaust the stack.
 */
#include <string.h>

#include "vmrp_private.h"

#define JSON_MAX_DEPTH 256

typedef struct {
    const unsigned char *p;
    size_t n;
    size_t i;
} json_cursor;

static void skip_ws(json_cursor *c)
{
    while (c->i < c->n &&
           (c->p[c->i] == ' ' || c->p[c->i] == '\t' || c->p[c->i] == '\n' || c->p[c->i] == '\r'))
        c->i++;
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One UTF-8 sequence at c->i (first byte >= 0x80); rejects overlongs,
 * surrogates and code points above U+10FFFF. */
static int utf8_seq(json_cursor *c)
{
    unsigned char b0 = c->p[c->i];
    size_t len;
    uint32_t cp;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        len = 2;
        cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        len = 3;
        cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        len = 4;
        cp = b0 & 0x07;
    } else {
        return -1;
    }
    if (c->n - c->i < len)
        return -1;
    for (size_t k = 1; k < len; k++) {
        unsigned char b = c->p[c->i + k];
        if ((b & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (b & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    c->i += len;
    return 0;
}

static int parse_string(json_cursor *c)
{
    c->i++; /* opening quote */
    while (c->i < c->n) {
        unsigned char ch = c->p[c->i];
        if (ch == '"') {
            c->i++;
            return 0;
        }
        if (ch < 0x20)
            return -1;
        if (ch == '\\') {
            if (++c->i >= c->n)
                return -1;
            ch = c->p[c->i];
            if (ch == 'u') {
                if (c->n - c->i < 5)
                    return -1;
                for (int k = 1; k <= 4; k++)
                    if (hexval(c->p[c->i + (size_t)k]) < 0)
                        return -1;
                c->i += 5;
            } else if (strchr("\"\\/bfnrt", ch) && ch != '\0') {
                c->i++;
            } else {
                return -1;
            }
        } else if (ch >= 0x80) {
            if (utf8_seq(c) != 0)
                return -1;
        } else {
            c->i++;
        }
    }
    return -1;
}

static int digits(json_cursor *c)
{
    size_t start = c->i;
    while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9')
        c->i++;
    return c->i > start ? 0 : -1;
}

static int parse_number(json_cursor *c)
{
    if (c->p[c->i] == '-')
        c->i++;
    if (c->i >= c->n)
        return -1;
    if (c->p[c->i] == '0')
        c->i++;
    else if (digits(c) != 0)
        return -1;
    if (c->i < c->n && c->p[c->i] == '.') {
        c->i++;
        if (digits(c) != 0)
            return -1;
    }
    if (c->i < c->n && (c->p[c->i] == 'e' || c->p[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->p[c->i] == '+' || c->p[c->i] == '-'))
            c->i++;
        if (digits(c) != 0)
            return -1;
    }
    return 0;
}

static int literal(json_cursor *c, const char *word)
{
    size_t len = strlen(word);
    if (c->n - c->i < len || memcmp(c->p + c->i, word, len) != 0)
        return -1;
    c->i += len;
    return 0;
}

static int parse_value(json_cursor *c, int depth);

/* Objects and arrays share one loop: `close` is '}' or ']'. */
static int parse_container(json_cursor *c, int depth, unsigned char close)
{
    if (depth >= JSON_MAX_DEPTH)
        return -1;
    c->i++;
    skip_ws(c);
    if (c->i < c->n && c->p[c->i] == close) {
        c->i++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (close == '}') {
            if (c->i >= c->n || c->p[c->i] != '"' || parse_string(c) != 0)
                return -1;
            skip_ws(c);
            if (c->i >= c->n || c->p[c->i] != ':')
                return -1;
            c->i++;
        }
        if (parse_value(c, depth + 1) != 0)
            return -1;
        skip_ws(c);
        if (c->i >= c->n)
            return -1;
        if (c->p[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->p[c->i] == close) {
            c->i++;
            return 0;
        }
        return -1;
    }
}

static int parse_value(json_cursor *c, int depth)
{
    skip_ws(c);
    if (c->i >= c->n)
        return -1;
    switch (c->p[c->i]) {
    case '{':
        return parse_container(c, depth, '}');
    case '[':
        return parse_container(c, depth, ']');
    case '"':
        return parse_string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        if (c->p[c->i] == '-' || (c->p[c->i] >= '0' && c->p[c->i] <= '9'))
            return parse_number(c);
        return -1;
    }
}

int json_validate(const char *text, size_t size, int want_object, size_t *err_offset)
{
    json_cursor c = {(const unsigned char *)text, size, 0};
    skip_ws(&c);
    int ok = !(want_object && (c.i >= c.n || c.p[c.i] != '{'));
    if (ok && parse_value(&c, 0) == 0) {
        skip_ws(&c);
        if (c.i == c.n)
            return VMRP_OK;
    }
    if (err_offset)
        *err_offset = c.i;
    return VMRP_E_INPUT;
}

int text_valid(const char *text, size_t size)
{
    json_cursor c = {(const unsigned char *)text, size, 0};
    while (c.i < c.n) {
        unsigned char ch = c.p[c.i];
        if (ch < 0x20 || ch == 0x7f)
            return 0;
        if (ch >= 0x80) {
            if (utf8_seq(&c) != 0)
                return 0;
        } else {
            c.i++;
        }
    }
    return 1;
}

int vmrp_json_validate(const char *text, size_t size, int want_object, size_t *err_offset)
{
    return json_validate(text, size, want_object, err_offset);
}
