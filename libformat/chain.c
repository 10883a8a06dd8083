/* chain.c - resolving a disk at a point as a stream of map entries.
 *
 * A disk at point N is the newest entry of each block along its family's
 * chain: N back to the family's newest FULL point, excluded disks skipped
 * (format section 9). Each MAP record holds its entries sorted by block,
 * so resolution is a k-way merge of one cursor per point of the chain:
 * the newest point wins a block, zero entries drop out, and blocks at or
 * past the smallest block count seen from N back to the point drop out.
 *
 * A cursor holds one decoded MAP record at a time (at most
 * MAP_ENTRIES_PER_RECORD entries of MAP_ENTRY_SIZE bytes, 3 MiB, and never
 * more than the point's own map), whatever the size of the disk. A long
 * chain of points that each changed many blocks, or a hostile archive of
 * many points whose small MAP records decode to 3 MiB each, would make
 * that the chain length times 3 MiB; so the decoded records held together
 * have a budget (CHAIN_BUDGET), and a record loaded past it is written to
 * the chain's temporary file, in a slot of 3 MiB per cursor, and read back
 * WINDOW entries at a time. The cursors sit in a binary heap ordered
 * by (block, rank): chains are usually short, but a collection may hold up
 * to MAX_POINTS_LIMIT points, and a heap keeps each step logarithmic in
 * the chain length where a scan of the cursors would be linear.
 *
 * Damage is reported before any entry is returned: chain_open() first
 * reads every MAP record along the chain, point by point as the chain
 * goes, checking every entry (sorted, within the disk, naming a BLOCK
 * record, the totals of Changed_Blocks) and keeping none; then the merge
 * reads them again. The second reading costs the maps twice (they are
 * about 0.1% of the data at 64 KiB blocks, 1.2% at 4 KiB). Records are
 * checked against their Record_Hash on every load, and the merge runs the
 * same checks again, so a file changed between the two readings fails
 * chain_next() with the same messages.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

#define CHAIN_BUDGET ((size_t)48 << 20) /* 16 cursors holding full MAP records */
#define WINDOW 64u                      /* entries read back at a time: 3 KiB */
#define SLOT_BYTES ((uint64_t)MAP_ENTRIES_PER_RECORD * MAP_ENTRY_SIZE)

/* What a chain's cursors share: the budget and the temporary file. */
typedef struct {
    size_t held;  /* bytes of decoded records held in memory */
    size_t budget;
    int fd;       /* -1 until a record is first put aside */
    char *dir;    /* where the file is, or was last tried */
} chain_store;

typedef struct {
    vmrp_reader *r;
    chain_store *store; /* NULL: the record is always held (a single walk) */
    uint32_t k, d;     /* point index and its disk */
    uint32_t rank;     /* 0 = newest point of the map_chain */
    uint64_t nblocks;  /* the point's block count: entries must be below it */
    uint64_t limit;    /* entries at or past it are checked, then dropped */
    uint32_t m;        /* next MAP record of the disk */
    unsigned char *raw; /* the current MAP record, decoded, when held */
    size_t held;       /* its bytes counted against the store's budget */
    unsigned char *window; /* when put aside: entries window_first.. read back */
    size_t window_first, window_n;
    size_t cnt, i;     /* its entries, and the next one */
    uint64_t seen;     /* entries of the disk's maps loaded so far */
    int64_t prev_block;
    char what[128];
    map_entry e;       /* the current entry */
} map_cursor;

struct chain_s {
    vmrp_reader *r;
    chain_store store;
    map_cursor *cur;   /* one per point of the chain, newest first */
    size_t ncur;
    map_cursor **heap; /* cursors holding an entry, by (block, rank) */
    size_t nheap;
};

static int find_family(const point_meta *pm, const unsigned char family[ID_SIZE])
{
    for (uint32_t d = 0; d < pm->info.disk_count; d++)
        if (memcmp(pm->info.disks[d].family_id, family, ID_SIZE) == 0)
            return (int)d;
    return -1;
}

static void cursor_init(map_cursor *c, vmrp_reader *r, uint32_t k, uint32_t d, uint64_t limit,
                        uint32_t rank)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->k = k;
    c->d = d;
    c->rank = rank;
    c->nblocks = block_count(r->points[k].info.disks[d].size_bytes, r->coll.block_size);
    c->limit = limit;
    c->prev_block = -1;
}

static void cursor_clear(map_cursor *c)
{
    free(c->raw);
    c->raw = NULL;
    if (c->store)
        c->store->held -= c->held;
    c->held = 0;
    free(c->window);
    c->window = NULL;
    c->window_n = 0;
    c->cnt = c->i = 0;
}

/* The chain's temporary file could not be made, written or read. */
static int store_failed(const map_cursor *c, int neg_errno)
{
    vmrp_reader *r = c->r;
    return err_set(&r->err, neg_errno == -ENOMEM ? VMRP_E_NOMEM : VMRP_E_IO,
                   "%s: %s: temporary file in %s: %s", r->label, c->what, c->store->dir,
                   strerror(-neg_errno));
}

/* The record just loaded into c->raw: keep it, or past the budget put it
 * in the cursor's slot of the store's file and free it. */
static int cursor_hold(map_cursor *c, size_t len)
{
    chain_store *st = c->store;
    if (!st || st->held + len <= st->budget) {
        c->held = len;
        if (st)
            st->held += len;
        return VMRP_OK;
    }
    if (st->fd < 0) {
        int fd = io_tmpfile(&st->dir);
        if (fd < 0)
            return store_failed(c, fd);
        st->fd = fd;
    }
    int rc = io_pwrite_full(st->fd, c->raw, len, (uint64_t)c->rank * SLOT_BYTES);
    if (rc == 0 && !(c->window = malloc((size_t)WINDOW * MAP_ENTRY_SIZE)))
        rc = -ENOMEM;
    if (rc)
        return store_failed(c, rc);
    free(c->raw);
    c->raw = NULL;
    c->window_first = c->window_n = 0;
    return VMRP_OK;
}

/* Entry i of the current record, held or read back from the store. */
static const unsigned char *cursor_entry(map_cursor *c, size_t i, int *rc)
{
    *rc = VMRP_OK;
    if (c->raw)
        return c->raw + i * MAP_ENTRY_SIZE;
    if (i < c->window_first || i - c->window_first >= c->window_n) {
        size_t n = c->cnt - i < WINDOW ? c->cnt - i : WINDOW;
        int e = io_pread_full(c->store->fd, c->window, n * MAP_ENTRY_SIZE,
                              (uint64_t)c->rank * SLOT_BYTES + (uint64_t)i * MAP_ENTRY_SIZE);
        if (e) {
            *rc = store_failed(c, e);
            return NULL;
        }
        c->window_first = i;
        c->window_n = n;
    }
    return c->window + (i - c->window_first) * MAP_ENTRY_SIZE;
}

/* The next entry of the point's maps, whether below the limit or not, into
 * c->e: 1, or 0 at the end of the maps. Every entry is checked. */
static int cursor_step(map_cursor *c, int *have)
{
    vmrp_reader *r = c->r;
    const point_meta *pm = &r->points[c->k];
    const vmrp_disk_info *di = &pm->info.disks[c->d];
    const disk_meta *dm = &pm->disk_meta[c->d];
    while (c->i == c->cnt) {
        cursor_clear(c);
        if (c->m == dm->map_count) {
            *have = 0;
            if (c->seen != di->changed_blocks)
                return err_set(&r->err, VMRP_E_CORRUPT,
                               "%s: disk %s in point %u: maps hold %llu entries, Changed_Blocks says %llu",
                               r->label, di->name, c->k + 1, (unsigned long long)c->seen,
                               (unsigned long long)di->changed_blocks);
            return VMRP_OK;
        }
        const uint32_t m = c->m++;
        rec_ref found;
        const rec_ref *ref = reader_find_record(r, dm->map_offsets[m], &found);
        snprintf(c->what, sizeof c->what, "map %u of disk %s in point %u", m, di->name, c->k + 1);
        size_t len = 0;
        int rc = reader_load_record(r, ref, REC_MAP, &c->raw, &len, c->what);
        if (rc) {
            c->raw = NULL;
            return rc;
        }
        size_t cnt = len / MAP_ENTRY_SIZE;
        if (len % MAP_ENTRY_SIZE != 0 || c->seen + cnt > di->changed_blocks ||
            len > SLOT_BYTES) {
            cursor_clear(c);
            return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s: size does not match Changed_Blocks",
                           r->label, c->what);
        }
        if ((rc = cursor_hold(c, len)) != 0) {
            cursor_clear(c);
            return rc;
        }
        c->seen += cnt;
        c->cnt = cnt;
        c->i = 0;
    }
    const size_t i = c->i++;
    int rc;
    const unsigned char *p = cursor_entry(c, i, &rc);
    if (!p) {
        cursor_clear(c);
        return rc;
    }
    map_entry *e = &c->e;
    e->block = le64_load(p + ME_OFF_BLOCK);
    e->record = le64_load(p + ME_OFF_RECORD);
    memcpy(e->id, p + ME_OFF_ID, HASH_SIZE);
    const char *bad = NULL;
    if ((int64_t)e->block <= c->prev_block || e->block >= c->nblocks)
        bad = "block numbers not increasing or beyond the disk size";
    else if (e->record == 0 && !is_zero(e->id, HASH_SIZE))
        bad = "zero entry with a Block_Id";
    else if (e->record != 0) {
        rec_ref block;
        const rec_ref *br = reader_find_record(r, e->record, &block);
        if (!br && r->find_failed) {
            cursor_clear(c);
            return r->find_failed;
        }
        if (!br || br->type != REC_BLOCK || br->offset >= pm->index_offset)
            bad = "entry names no BLOCK record";
    }
    if (bad) {
        cursor_clear(c);
        return err_set(&r->err, VMRP_E_CORRUPT, "%s: %s, entry %zu (block %llu): %s", r->label,
                       c->what, i, (unsigned long long)e->block, bad);
    }
    c->prev_block = (int64_t)e->block;
    *have = 1;
    return VMRP_OK;
}

/* The next entry below the limit: 1, or 0 at the end (every entry past the
 * limit checked on the way). */
static int cursor_next(map_cursor *c, int *have)
{
    int rc;
    while ((rc = cursor_step(c, have)) == VMRP_OK && *have && c->e.block >= c->limit)
        ;
    if (rc || !*have)
        cursor_clear(c);
    return rc;
}

int map_walk(vmrp_reader *r, uint32_t k, uint32_t d,
             int (*fn)(void *ctx, const map_entry *e), void *ctx)
{
    map_cursor c;
    cursor_init(&c, r, k, d, UINT64_MAX, 0);
    int have = 0, rc;
    while ((rc = cursor_step(&c, &have)) == VMRP_OK && have)
        if ((rc = fn(ctx, &c.e)) != VMRP_OK)
            break;
    cursor_clear(&c);
    return rc;
}

static int heap_less(const map_cursor *a, const map_cursor *b)
{
    if (a->e.block != b->e.block)
        return a->e.block < b->e.block;
    return a->rank < b->rank;
}

static void heap_down(map_chain *ch, size_t i)
{
    map_cursor **h = ch->heap;
    for (;;) {
        size_t l = 2 * i + 1, s = i;
        if (l < ch->nheap && heap_less(h[l], h[s]))
            s = l;
        if (l + 1 < ch->nheap && heap_less(h[l + 1], h[s]))
            s = l + 1;
        if (s == i)
            return;
        map_cursor *t = h[i];
        h[i] = h[s];
        h[s] = t;
        i = s;
    }
}

/* Advance the cursor at the top of the heap past its entry. */
static int heap_advance_top(map_chain *ch)
{
    int have = 0;
    int rc = cursor_next(ch->heap[0], &have);
    if (rc)
        return rc;
    if (!have)
        ch->heap[0] = ch->heap[--ch->nheap];
    heap_down(ch, 0);
    return VMRP_OK;
}

void chain_free(map_chain *ch)
{
    if (!ch)
        return;
    for (size_t i = 0; i < ch->ncur; i++)
        cursor_clear(&ch->cur[i]);
    free(ch->cur);
    free(ch->heap);
    if (ch->store.fd >= 0)
        close(ch->store.fd);
    free(ch->store.dir);
    free(ch);
}

/* The chain of disk d of point pi (included): its family back to the
 * newest FULL point, excluded disks skipped. */
static int chain_build(vmrp_reader *r, uint32_t pi, uint32_t d, int validate, map_chain **out)
{
    *out = NULL;
    unsigned char family[ID_SIZE];
    memcpy(family, r->points[pi].info.disks[d].family_id, ID_SIZE);
    map_chain *ch = calloc(1, sizeof *ch);
    if (ch) {
        ch->store.fd = -1;
        ch->store.budget = r->chain_budget ? r->chain_budget : CHAIN_BUDGET;
        ch->store.dir = strdup(io_tmp_dir());
    }
    size_t len = 0;
    for (int64_t k = pi; k >= 0; k--) {
        int dk = find_family(&r->points[k], family);
        if (dk < 0 || r->points[k].info.disks[dk].excluded)
            continue;
        len++;
        if (r->points[k].info.disks[dk].full)
            break; /* its map is complete: older points add nothing */
    }
    if (ch) {
        ch->cur = calloc(len ? len : 1, sizeof *ch->cur);
        ch->heap = calloc(len ? len : 1, sizeof *ch->heap);
    }
    if (!ch || !ch->cur || !ch->heap || !ch->store.dir) {
        chain_free(ch);
        return err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s", r->label,
                       r->points[pi].info.disks[d].name);
    }
    ch->r = r;
    uint64_t limit = UINT64_MAX;
    for (int64_t k = pi; k >= 0 && ch->ncur < len; k--) {
        int dk = find_family(&r->points[k], family);
        if (dk < 0 || r->points[k].info.disks[dk].excluded)
            continue;
        uint64_t nb = block_count(r->points[k].info.disks[dk].size_bytes, r->coll.block_size);
        if (nb < limit)
            limit = nb;
        cursor_init(&ch->cur[ch->ncur], r, (uint32_t)k, (uint32_t)dk, limit, (uint32_t)ch->ncur);
        ch->cur[ch->ncur].store = &ch->store;
        ch->ncur++;
    }
    /* First reading: every entry of every map along the chain, in chain
     * order, so that damage is reported wherever it lies before any entry
     * is used. */
    for (size_t i = 0; validate && i < ch->ncur; i++) {
        map_cursor c = ch->cur[i];
        int have = 0, rc;
        while ((rc = cursor_step(&c, &have)) == VMRP_OK && have)
            ;
        cursor_clear(&c);
        if (rc) {
            chain_free(ch);
            return rc;
        }
    }
    /* Second reading: the merge, each cursor on its first entry. */
    for (size_t i = 0; i < ch->ncur; i++) {
        int have = 0;
        int rc = cursor_next(&ch->cur[i], &have);
        if (rc) {
            chain_free(ch);
            return rc;
        }
        if (have)
            ch->heap[ch->nheap++] = &ch->cur[i];
    }
    for (size_t i = ch->nheap / 2; i-- > 0;)
        heap_down(ch, i);
    *out = ch;
    return VMRP_OK;
}

int chain_open(vmrp_reader *r, uint32_t pi, const char *name, int validate, map_chain **out)
{
    *out = NULL;
    if (pi >= r->npoints)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: no point %u", r->label, pi + 1);
    int d = point_find_disk(&r->points[pi], name);
    if (d < 0)
        return err_set(&r->err, VMRP_E_NOT_FOUND, "%s: point %s (%u) has no disk '%s'", r->label,
                       r->points[pi].info.name, pi + 1, name);
    if (r->points[pi].info.disks[d].excluded)
        return err_set(&r->err, VMRP_E_NOT_FOUND,
                       "%s: disk '%s' was excluded from point %s (%u): nothing was stored",
                       r->label, name, r->points[pi].info.name, pi + 1);
    return chain_build(r, pi, (uint32_t)d, validate, out);
}

int chain_open_latest(vmrp_reader *r, const char *name, int validate, map_chain **out,
                      const vmrp_disk_info **latest, const vmrp_disk_info **included)
{
    *out = NULL;
    *latest = NULL;
    *included = NULL;
    for (int64_t k = (int64_t)r->npoints - 1; k >= 0; k--) {
        int d = point_find_disk(&r->points[k], name);
        if (d < 0)
            continue;
        if (!*latest)
            *latest = &r->points[k].info.disks[d]; /* family and size, even if excluded */
        if (!r->points[k].info.disks[d].excluded) {
            *included = &r->points[k].info.disks[d];
            return chain_build(r, (uint32_t)k, (uint32_t)d, validate, out);
        }
    }
    return VMRP_OK;
}

int chain_next(map_chain *ch, map_entry *out, int *have)
{
    *have = 0;
    while (ch && ch->nheap > 0) {
        const map_entry e = ch->heap[0]->e; /* the newest entry of the lowest block */
        int rc = heap_advance_top(ch);
        /* older entries of the same block */
        while (rc == VMRP_OK && ch->nheap > 0 && ch->heap[0]->e.block == e.block)
            rc = heap_advance_top(ch);
        if (rc) {
            ch->nheap = 0;
            return rc;
        }
        if (e.record != 0) {
            *out = e;
            *have = 1;
            return VMRP_OK;
        }
    }
    return VMRP_OK;
}

int reader_resolve_disk(vmrp_reader *r, uint32_t pi, const char *name, map_entry **out,
                        size_t *count)
{
    *out = NULL;
    *count = 0;
    map_chain *ch = NULL;
    int rc = chain_open(r, pi, name, 1, &ch);
    if (rc)
        return rc;
    map_entry *v = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        map_entry e;
        int have = 0;
        rc = chain_next(ch, &e, &have);
        if (rc || !have)
            break;
        if (n == cap) {
            size_t want = cap ? 2 * cap : 1024;
            map_entry *bigger = realloc(v, want * sizeof *v);
            if (!bigger) {
                rc = err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s",
                             r->label, name);
                break;
            }
            v = bigger;
            cap = want;
        }
        v[n++] = e;
    }
    chain_free(ch);
    if (rc == VMRP_OK && !v && !(v = malloc(sizeof *v)))
        rc = err_set(&r->err, VMRP_E_NOMEM, "%s: out of memory resolving disk %s", r->label, name);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *count = n;
    return VMRP_OK;
}
