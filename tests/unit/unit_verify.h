/* unit_verify.h - verify an archive twice: as configured, and with verify's
 * lists moved to temporary files every few entries; and edit an archive's
 * bytes, then seal them again so that only the edit is wrong.
 *
 * Verify keeps what later records need (blocks, the segment's records, its
 * maps) in memory up to a bound and in temporary files past it. Archives
 * small enough for a unit test never reach the bound, so each verification
 * here runs a second time with the bound set to 2 entries (2 bytes of maps):
 * both must give the same result, the same message and the same report.
 * Include after unit.h.
 *
 *   ut_verify_spilled_too   verify a descriptor both ways
 *   ut_verify_file          ... a file, with flags and a public key
 *   ut_dup                  a malloc'd copy of bytes (an archive to edit)
 *   ut_commit_offsets       where an archive's commits are, oldest first
 *   ut_segment_at, ut_last_segment   a segment: its COMMIT and INDEX records
 *   ut_index_entry, ut_index_find    an INDEX entry by number, or by type
 *   ut_plain_payload        the payload of a record stored without codec
 *   ut_point_disk, ut_point_file     entries of a POINT record's payload
 *   ut_seal_entry           a record's Record_Hash into its INDEX entry
 *   ut_seal_index           an INDEX's hash into its COMMIT
 *   ut_seal_chain           every Prev_Commit_Hash, and signatures again
 */
#ifndef VMRP_UNIT_VERIFY_H
#define VMRP_UNIT_VERIFY_H

#include "vmrp_private.h"

/* fd: a file (it is read again from its start). */
static inline int ut_verify_spilled_too(vmrp_reader *r, int fd, const char *label,
                                        vmrp_verify_report *rep)
{
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    int rc = vmrp_reader_verify(r, fd, label, rep);
    char *msg = strdup(vmrp_reader_error_string(r));
    vmrp_verify_report again;
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    r->verify_keep = 2;
    int rc_again = vmrp_reader_verify(r, fd, label, &again);
    r->verify_keep = 0;
    ck_assert_msg(rc_again == rc && strcmp(msg, vmrp_reader_error_string(r)) == 0,
                  "%s: verify with its lists in memory gave %d (%s), with them in files %d (%s)",
                  label, rc, msg, rc_again, vmrp_reader_error_string(r));
    ck_assert_msg(memcmp(rep, &again, sizeof again) == 0,
                  "%s: verify's report differs with its lists in files", label);
    free(msg);
    return rc;
}

/* Verify the file at path (flags: vmrp_reader_set_verify_flags(); pubkey:
 * check every commit's signature with it, or NULL) both ways. msg, when not
 * NULL, receives the message; a failure must come with one. */
static inline int ut_verify_file(const char *path, unsigned flags, const vmrp_key *pubkey,
                                 vmrp_verify_report *rep, char *msg, size_t msglen)
{
    vmrp_reader *r = vmrp_reader_new();
    ck_assert_ptr_nonnull(r);
    vmrp_reader_set_verify_flags(r, flags);
    if (pubkey)
        vmrp_reader_set_public_key(r, pubkey);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
    int rc = ut_verify_spilled_too(r, fd, path, rep);
    close(fd);
    if (msg)
        snprintf(msg, msglen, "%s", vmrp_reader_error_string(r));
    if (rc != VMRP_OK)
        ck_assert_msg(vmrp_reader_error_string(r)[0] != '\0', "verify failed (%d) silently", rc);
    vmrp_reader_free(r);
    return rc;
}

/* ---- editing an archive and sealing it again ----
 *
 * A test edits an archive's bytes in memory, as a writer with a bug (or
 * someone who holds the file) would have written them, then seals them
 * again: each record's Record_Hash in its INDEX entry, each INDEX's hash in
 * its COMMIT, each commit's Commit_Hash in the next one's Prev_Commit_Hash,
 * and, given the key, the signatures of signed commits. Every hash is then
 * right and only the edit is wrong. Edits change bytes, never lengths:
 * records keep their offsets. */

static inline unsigned char *ut_dup(const void *bytes, size_t len)
{
    unsigned char *copy = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, bytes, len);
    return copy;
}

/* The offsets of the archive's commits, oldest first, found from its
 * trailer back along Prev_Commit_Offset. Returns how many (at most cap). */
static inline uint32_t ut_commit_offsets(const unsigned char *a, size_t len, uint64_t *out,
                                         uint32_t cap)
{
    ck_assert_uint_ge(len, FH_SIZE + CM_RECORD_SIZE);
    uint64_t at = len - CM_RECORD_SIZE;
    uint32_t n = 0;
    for (;;) {
        ck_assert_uint_lt(n, cap);
        const unsigned char *p = a + at + RH_SIZE;
        ck_assert_uint_eq(a[at + RH_OFF_TYPE], REC_COMMIT);
        ck_assert_uint_eq(le64_load(p + CM_OFF_COMMIT_OFFSET), at);
        out[n++] = at;
        uint64_t prev = le64_load(p + CM_OFF_PREV_OFFSET);
        if (prev == 0)
            break;
        ck_assert_uint_lt(prev, at);
        at = prev;
    }
    for (uint32_t i = 0; i < n / 2; i++) {
        uint64_t t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

/* A segment of an archive held in memory: the COMMIT record that closes it
 * and its INDEX record. */
typedef struct {
    unsigned char *a;
    unsigned char *cm;
    unsigned char *ix;
    uint64_t ix_size;
} ut_segment;

/* The segment closed by the commit at offset commit_at. */
static inline ut_segment ut_segment_at(unsigned char *a, uint64_t commit_at)
{
    ut_segment s;
    s.a = a;
    s.cm = a + commit_at;
    ck_assert_uint_eq(s.cm[RH_OFF_TYPE], REC_COMMIT);
    s.ix = a + le64_load(s.cm + RH_SIZE + CM_OFF_INDEX_OFFSET);
    s.ix_size = le64_load(s.cm + RH_SIZE + CM_OFF_INDEX_SIZE);
    ck_assert_uint_eq(s.ix[RH_OFF_TYPE], REC_INDEX);
    return s;
}

/* The segment of the latest commit (the trailer). */
static inline ut_segment ut_last_segment(unsigned char *a, size_t len)
{
    return ut_segment_at(a, len - CM_RECORD_SIZE);
}

static inline uint32_t ut_index_count(const ut_segment *s)
{
    return le32_load(s->ix + RH_SIZE + IX_OFF_ENTRY_COUNT);
}

/* INDEX entry i of the segment. */
static inline unsigned char *ut_index_entry(const ut_segment *s, uint32_t i)
{
    ck_assert_uint_lt(i, ut_index_count(s));
    return s->ix + RH_SIZE + IX_HEADER_SIZE + (size_t)i * IX_ENTRY_SIZE;
}

/* The INDEX entry of the segment's record number nth (0: the first) of
 * Record_Type type, or NULL. */
static inline unsigned char *ut_index_find(const ut_segment *s, uint8_t type, uint32_t nth)
{
    for (uint32_t i = 0; i < ut_index_count(s); i++) {
        unsigned char *e = ut_index_entry(s, i);
        if (e[IXE_OFF_TYPE] == type && nth-- == 0)
            return e;
    }
    return NULL;
}

/* The payload of the record that INDEX entry e lists; the record must be
 * stored without a codec (packed with VMRP_CODEC_NONE), so that the payload
 * is its raw bytes and can be edited in place. */
static inline unsigned char *ut_plain_payload(const ut_segment *s, const unsigned char *e,
                                              size_t *len)
{
    unsigned char *rec = s->a + le64_load(e + IXE_OFF_OFFSET);
    ck_assert_uint_eq(rec[RH_OFF_TYPE], e[IXE_OFF_TYPE]);
    ck_assert_uint_eq(rec[RH_OFF_CODEC], CODEC_NONE);
    ck_assert_uint_eq(rec[RH_OFF_FLAGS], 0);
    *len = le32_load(rec + RH_OFF_STORED_SIZE);
    return rec + RH_SIZE;
}

/* Disk entry `which` of a POINT record's payload p. */
static inline unsigned char *ut_point_disk(unsigned char *p, uint32_t which)
{
    unsigned char *at = p + PT_FIXED_SIZE + le32_load(p + PT_OFF_NAME_SIZE) +
                        le32_load(p + PT_OFF_META_SIZE);
    for (uint32_t i = 0; i < which; i++)
        at += PD_FIXED_SIZE + le32_load(at + PD_OFF_NAME_SIZE) +
              8u * le32_load(at + PD_OFF_MAP_COUNT);
    return at;
}

/* Config file entry `which` of a POINT record's payload p. */
static inline unsigned char *ut_point_file(unsigned char *p, uint32_t which)
{
    unsigned char *at = ut_point_disk(p, le32_load(p + PT_OFF_DISK_COUNT));
    for (uint32_t i = 0; i < which; i++)
        at += PF_FIXED_SIZE + le32_load(at + PF_OFF_NAME_SIZE);
    return at;
}

/* The Record_Hash of the record INDEX entry e lists, from its bytes. */
static inline void ut_seal_entry(ut_segment *s, unsigned char *e)
{
    hash_buf(e + IXE_OFF_HASH, s->a + le64_load(e + IXE_OFF_OFFSET), le32_load(e + IXE_OFF_SIZE));
}

/* The INDEX's Record_Hash into the segment's COMMIT (Index_Hash). */
static inline void ut_seal_index(ut_segment *s)
{
    hash_buf(s->cm + RH_SIZE + CM_OFF_INDEX_HASH, s->ix, (size_t)s->ix_size);
}

/* Every commit's Prev_Commit_Hash from the commit before it, oldest first.
 * With signer (a secret signing key), each commit signed with its key id is
 * signed again; without, signatures stay as they were (and no longer verify
 * where the Commit_Hash changed). */
static inline void ut_seal_chain(unsigned char *a, size_t len, const vmrp_key *signer)
{
    uint64_t at[256];
    uint32_t n = ut_commit_offsets(a, len, at, 256);
    unsigned char prev[HASH_SIZE];
    for (uint32_t i = 0; i < n; i++) {
        unsigned char *rec = a + at[i], *p = rec + RH_SIZE;
        if (i > 0)
            memcpy(p + CM_OFF_PREV_HASH, prev, HASH_SIZE);
        commit_hash(rec, prev);
        if (signer && (le64_load(p + CM_OFF_FLAGS) & COMMIT_FLAG_SIGNED) &&
            memcmp(p + CM_OFF_KEY_ID, key_keynum(signer), KEY_ID_SIZE) == 0)
            ck_assert_int_eq(key_sign_commit(signer, prev, p + CM_OFF_SIGNATURE), VMRP_OK);
    }
}

#endif
