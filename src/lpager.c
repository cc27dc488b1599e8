/*
 * lpager.c - `core.decode_events(body [, group])` and `core.rstrip(s)`.
 *
 * decode_events turns a FilterLogEvents or GetLogEvents response body into
 *   { events = { {timestamp, ingestion_time, stream, id, message, group}, ... },
 *     next_token, next_forward_token, next_backward_token, count }
 * in one pass, building the final tables while scanning (no document tree, no float
 * timestamps). Malformed input gives nil, "invalid JSON in response at byte N: what"
 * with N 1-based; a well-formed body of the wrong shape (say, a string timestamp)
 * gives nil, "invalid response at byte N: what". A null value for a known field counts as absent. Every event must have a
 * timestamp and a message. Unknown keys are skipped, whatever their value.
 *
 * Memory: the only scratch space is a Lua userdata, so a Lua out-of-memory error
 * raised from here (no libcurl or OpenSSL frames are on the stack) leaks nothing.
 */
#include "lcwlogs.h"
#include "pager.h"

#include <string.h>

/* Fixed stack slots of decode_events, after the two arguments. The key strings
 * live on the stack so each lua_rawset reuses them instead of interning again. */
enum {
    ARG_BODY = 1,
    ARG_GROUP,
    K_TIMESTAMP,
    K_INGESTION,
    K_STREAM,
    K_ID,
    K_MESSAGE,
    K_GROUP,
    S_SCRATCH, /* nil, or a userdata reused for unescaping */
    S_PAGE
};

typedef struct decoder {
    lua_State *L;
    cw_json j;
    size_t scratch_size;
    int has_group;
    const char *shape_err; /* set for a well-formed body of the wrong shape */
    unsigned seen;         /* SEEN_* bits of the event being read */
} decoder;

/* The fields every event must have; null counts as absent. */
enum { SEEN_TIMESTAMP = 1, SEEN_MESSAGE = 2 };

/* Reports a value of the wrong type, unless it is also malformed JSON: a syntax
 * error is the more useful message, so the value is checked first. */
static int wrong_shape(decoder *d, const char *what)
{
    size_t at = d->j.pos;
    if (cw_json_skip(&d->j) != 0)
        return -1;
    d->j.pos = at;
    d->shape_err = what;
    return -1;
}

/* Pushes a validated string token, unescaping through the scratch userdata. */
static void push_str(decoder *d, const cw_json_str *s)
{
    lua_State *L = d->L;
    if (!s->has_escapes) {
        lua_pushlstring(L, s->raw, s->len);
        return;
    }
    if (s->len > d->scratch_size) {
        /* Grow geometrically so a page of growing messages stays linear. */
        size_t want = d->scratch_size * 2 > s->len ? d->scratch_size * 2 : s->len;
        if (want < 256)
            want = 256;
        lua_newuserdatauv(L, want, 0);
        lua_replace(L, S_SCRATCH);
        d->scratch_size = want;
    }
    {
        char *buf = lua_touserdata(L, S_SCRATCH);
        lua_pushlstring(L, buf, cw_json_unescape(s, buf));
    }
}

/* Reads a key and its colon. Escaped keys are decoded so that "time\u0073tamp"
 * still means timestamp; a key too long to be one we know is left undecoded. */
static int read_key(decoder *d, char *kbuf, size_t kcap, const char **key, size_t *klen)
{
    cw_json_str s;
    cw_json_peek(&d->j);
    if (cw_json_string(&d->j, &s) != 0)
        return -1;
    if (s.has_escapes && s.len <= kcap) {
        *klen = cw_json_unescape(&s, kbuf);
        *key = kbuf;
    } else {
        *key = s.raw;
        *klen = s.len;
    }
    return cw_json_expect(&d->j, ':');
}

static int key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* Walks an object's members: calls member(d, key, klen) with the cursor on
 * each value, which must consume it. Handles {} and the commas between members. */
typedef int (*member_fn)(decoder *d, const char *key, size_t klen);

static int each_member(decoder *d, member_fn member)
{
    /* Long enough for any key we recognise written entirely as \uXXXX escapes. */
    char kbuf[128];
    const char *key;
    size_t klen;

    if (cw_json_expect(&d->j, '{') != 0)
        return -1;
    if (cw_json_peek(&d->j) == '}') {
        d->j.pos++;
        return 0;
    }
    for (;;) {
        int c;
        if (read_key(d, kbuf, sizeof kbuf, &key, &klen) != 0)
            return -1;
        if (member(d, key, klen) != 0)
            return -1;
        c = cw_json_peek(&d->j);
        if (c == ',') {
            d->j.pos++;
            continue;
        }
        return cw_json_expect(&d->j, '}');
    }
}

/* Sets t[key] = string value, or leaves it unset for null. */
static int set_string(decoder *d, int t, int key, unsigned seen, const char *what)
{
    lua_State *L = d->L;
    cw_json_str s;
    int c = cw_json_peek(&d->j);
    if (c == 'n')
        return cw_json_null(&d->j);
    if (c != '"')
        return wrong_shape(d, what);
    if (cw_json_string(&d->j, &s) != 0)
        return -1;
    lua_pushvalue(L, key);
    push_str(d, &s);
    lua_rawset(L, t);
    d->seen |= seen;
    return 0;
}

static int set_integer(decoder *d, int t, int key, unsigned seen, const char *what)
{
    lua_State *L = d->L;
    int64_t v;
    int c = cw_json_peek(&d->j);
    if (c == 'n')
        return cw_json_null(&d->j);
    if (c != '-' && !(c >= '0' && c <= '9'))
        return wrong_shape(d, what);
    if (cw_json_int64(&d->j, &v) != 0)
        return -1;
    lua_pushvalue(L, key);
    lua_pushinteger(L, (lua_Integer)v);
    lua_rawset(L, t);
    d->seen |= seen;
    return 0;
}

/* The event table is on top of the stack. */
static int event_member(decoder *d, const char *key, size_t klen)
{
    int ev = lua_gettop(d->L);
    switch (klen) {
    case 7:
        if (key_is(key, klen, "eventId"))
            return set_string(d, ev, K_ID, 0, "eventId is not a string");
        if (key_is(key, klen, "message"))
            return set_string(d, ev, K_MESSAGE, SEEN_MESSAGE, "message is not a string");
        break;
    case 9:
        if (key_is(key, klen, "timestamp"))
            return set_integer(d, ev, K_TIMESTAMP, SEEN_TIMESTAMP, "timestamp is not a number");
        break;
    case 13:
        if (key_is(key, klen, "ingestionTime"))
            return set_integer(d, ev, K_INGESTION, 0, "ingestionTime is not a number");
        if (key_is(key, klen, "logStreamName"))
            return set_string(d, ev, K_STREAM, 0, "logStreamName is not a string");
        break;
    default:
        break;
    }
    return cw_json_skip(&d->j);
}

/* Parses the events array into the table on top of the stack; returns the count
 * through *count. */
static int read_events(decoder *d, lua_Integer *count)
{
    lua_State *L = d->L;
    int events = lua_gettop(L);
    lua_Integer n = 0;

    if (cw_json_expect(&d->j, '[') != 0)
        return -1;
    if (cw_json_peek(&d->j) == ']') {
        d->j.pos++;
        *count = 0;
        return 0;
    }
    for (;;) {
        size_t start;
        int c = cw_json_peek(&d->j);
        if (c != '{')
            return wrong_shape(d, "an event is not an object");
        start = d->j.pos;
        d->seen = 0;
        lua_createtable(L, 0, 6);
        if (each_member(d, event_member) != 0)
            return -1;
        if (d->seen != (SEEN_TIMESTAMP | SEEN_MESSAGE)) {
            d->j.pos = start;
            d->shape_err = d->seen & SEEN_TIMESTAMP ? "an event has no message"
                                                    : "an event has no timestamp";
            return -1;
        }
        if (d->has_group) {
            lua_pushvalue(L, K_GROUP);
            lua_pushvalue(L, ARG_GROUP);
            lua_rawset(L, -3);
        }
        lua_rawseti(L, events, ++n);
        c = cw_json_peek(&d->j);
        if (c == ',') {
            d->j.pos++;
            continue;
        }
        *count = n;
        return cw_json_expect(&d->j, ']');
    }
}

static int page_member(decoder *d, const char *key, size_t klen)
{
    lua_State *L = d->L;
    if (key_is(key, klen, "events")) {
        lua_Integer count = 0;
        int c = cw_json_peek(&d->j);
        if (c == 'n') {
            if (cw_json_null(&d->j) != 0)
                return -1;
            lua_newtable(L);
        } else if (c == '[') {
            lua_newtable(L);
            if (read_events(d, &count) != 0)
                return -1;
        } else {
            return wrong_shape(d, "events is not an array");
        }
        lua_setfield(L, S_PAGE, "events");
        lua_pushinteger(L, count);
        lua_setfield(L, S_PAGE, "count");
        return 0;
    }
    if (key_is(key, klen, "nextToken") || key_is(key, klen, "nextForwardToken") ||
        key_is(key, klen, "nextBackwardToken")) {
        const char *field = klen == 9 ? "next_token"
                            : key[4] == 'F' ? "next_forward_token" : "next_backward_token";
        int c = cw_json_peek(&d->j);
        cw_json_str s;
        if (c == 'n') {
            if (cw_json_null(&d->j) != 0)
                return -1;
            /* A later null overrides an earlier duplicate, as in any JSON reader. */
            lua_pushnil(L);
        } else if (c == '"') {
            if (cw_json_string(&d->j, &s) != 0)
                return -1;
            push_str(d, &s);
        } else {
            return wrong_shape(d, "a paging token is not a string");
        }
        lua_setfield(L, S_PAGE, field);
        return 0;
    }
    return cw_json_skip(&d->j);
}

static int l_decode_events(lua_State *L)
{
    decoder d;
    size_t len;
    const char *body = luaL_checklstring(L, ARG_BODY, &len);
    int gt = lua_type(L, ARG_GROUP);

    luaL_argexpected(L, gt == LUA_TNONE || gt == LUA_TNIL || gt == LUA_TSTRING, ARG_GROUP,
                     "string or nil");
    lua_settop(L, ARG_GROUP);
    luaL_checkstack(L, 16, "decode_events");
    lua_pushliteral(L, "timestamp");
    lua_pushliteral(L, "ingestion_time");
    lua_pushliteral(L, "stream");
    lua_pushliteral(L, "id");
    lua_pushliteral(L, "message");
    lua_pushliteral(L, "group");
    lua_pushnil(L);
    lua_createtable(L, 0, 5);

    d.L = L;
    cw_json_init(&d.j, body, len);
    d.scratch_size = 0;
    d.has_group = gt == LUA_TSTRING;
    d.shape_err = NULL;
    d.seen = 0;

    if (cw_json_peek(&d.j) != '{' && cw_json_peek(&d.j) >= 0) {
        wrong_shape(&d, "the body is not a JSON object");
    } else if (each_member(&d, page_member) == 0) {
        if (cw_json_peek(&d.j) < 0) {
            lua_settop(L, S_PAGE);
            lua_getfield(L, S_PAGE, "events");
            if (lua_isnil(L, -1)) {
                lua_newtable(L);
                lua_setfield(L, S_PAGE, "events");
                lua_pushinteger(L, 0);
                lua_setfield(L, S_PAGE, "count");
            }
            lua_settop(L, S_PAGE);
            return 1;
        }
        d.j.err = "trailing characters after the JSON value";
        d.j.err_pos = d.j.pos;
        d.j.err_char = -1;
    }
    lua_pushnil(L);
    if (d.shape_err != NULL) {
        lua_pushfstring(L, "invalid response at byte %I: %s", (lua_Integer)d.j.pos + 1,
                        d.shape_err);
    } else if (d.j.err_char >= 0x20 && d.j.err_char < 0x7f) {
        lua_pushfstring(L, "invalid JSON in response at byte %I: %s '%c'",
                        (lua_Integer)d.j.err_pos + 1, d.j.err, d.j.err_char);
    } else if (d.j.err_char >= 0) {
        /* lua_pushfstring has no %02x; build the hex pair by hand. */
        static const char hex[] = "0123456789abcdef";
        char pair[3];
        pair[0] = hex[(d.j.err_char >> 4) & 0xF];
        pair[1] = hex[d.j.err_char & 0xF];
        pair[2] = '\0';
        lua_pushfstring(L, "invalid JSON in response at byte %I: %s (byte 0x%s)",
                        (lua_Integer)d.j.err_pos + 1, d.j.err, pair);
    } else {
        lua_pushfstring(L, "invalid JSON in response at byte %I: %s",
                        (lua_Integer)d.j.err_pos + 1, d.j.err);
    }
    return 2;
}

static int l_rstrip(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t keep = cw_rstrip_len(s, len);
    if (keep == len)
        lua_settop(L, 1);
    else
        lua_pushlstring(L, s, keep);
    return 1;
}

void cw_open_pager(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"decode_events", l_decode_events},
        {"rstrip", l_rstrip},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}
