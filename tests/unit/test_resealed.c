/* test_resealed.c - archives whose every hash is right and that break a
 * rule of the format: packed, edited, then sealed again (unit_verify.h), as
 * a writer with a bug, or someone who holds the file, would write them.
 *
 * The reader (vmrp_reader_open) and verify must both refuse each one with
 * VMRP_E_CORRUPT, naming the point and what is wrong: commit signatures
 * that are forged, moved or stale (format 6.1, 7.1), the family and name
 * rule of format 5.4.2, a point name used twice (5.4.1), the FULL flag
 * without encryption, map offsets that name no MAP record of the point's
 * segment and config file offsets that name no FILE record (5.4.2, 5.4.3).
 * A control in each group shows that the sealing alone leaves an archive
 * both accept, so each refusal is the edit's.
 */
#include "unit.h"

#include "unit_verify.h"

#define BS 4096u

typedef struct {
    char *dir;
    char path[4096]; /* the archive as packed */
    char work[4096]; /* the edited copy */
    unsigned char *bytes;
    size_t len;
    uint64_t commit[2];     /* offsets of the two commits */
    vmrp_key *signer;       /* the signed archive's key (secret) ... */
    vmrp_key *signer_pub;   /* ... its public half, as a verifier has it */
    vmrp_key *other;        /* another signing key */
    char signer_id[17], other_id[17];
} fixture;

/* Two points, stored without compression so that POINT records can be
 * edited in place, 4 KiB blocks:
 *   p1: disks a (3 blocks), b (2), x (1); config file cfg/x.xml
 *   p2: a (block 1 changed), b excluded, c new; x absent; the config file
 *       inherited (its FILE record is in segment 1)
 * signed: both commits signed by fx->signer. */
static void build(fixture *fx, int sign)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = ut_tmpdir();
    ut_join(fx->path, sizeof fx->path, fx->dir, "two.vmrp");
    ut_join(fx->work, sizeof fx->work, fx->dir, "edited.vmrp");
    ut_pack_extra x;
    memset(&x, 0, sizeof x);
    if (sign) {
        fx->signer = vmrp_key_new();
        fx->other = vmrp_key_new();
        ck_assert_int_eq(vmrp_key_generate(fx->signer), VMRP_OK);
        ck_assert_int_eq(vmrp_key_generate(fx->other), VMRP_OK);
        fx->signer_pub = ut_public_half(fx->signer, fx->dir, "signer");
        vmrp_key_id(fx->signer, fx->signer_id);
        vmrp_key_id(fx->other, fx->other_id);
        x.signer = fx->signer;
    }
    unsigned char a[3 * BS], b[2 * BS], xd[BS], c[BS];
    ut_fill_text(a, sizeof a, 1);
    ut_fill_text(b, sizeof b, 2);
    ut_fill_text(xd, sizeof xd, 3);
    ut_fill_text(c, sizeof c, 4);
    vmrp_writer_options o;
    memset(&o, 0, sizeof o);
    o.block_size = BS;
    o.codec = VMRP_CODEC_NONE;
    ut_file f = {"cfg/x.xml", 0644, "<domain/>", 9};
    ut_disk d1[] = {{"a", a, sizeof a, 0}, {"b", b, sizeof b, 0}, {"x", xd, sizeof xd, 0}};
    ut_point p1 = {"p1", 0, "{\"vm\":\"two\"}", &f, 1, &o};
    ck_assert_int_eq(ut_pack_ex(fx->dir, fx->path, d1, 3, &p1, &x, NULL), VMRP_OK);
    ut_fill_text(a + BS, BS, 5);
    ut_disk d2[] = {{"a", a, sizeof a, 0}, {"b", NULL, 0, 1}, {"c", c, sizeof c, 0}};
    ut_point p2 = {"p2", 0, NULL, NULL, 0, &o};
    ck_assert_int_eq(ut_pack_ex(fx->dir, fx->path, d2, 3, &p2, &x, NULL), VMRP_OK);
    fx->bytes = ut_read_file(fx->path, &fx->len);
    ck_assert_uint_eq(ut_commit_offsets(fx->bytes, fx->len, fx->commit, 2), 2);
}

static void fixture_free(fixture *fx)
{
    free(fx->bytes);
    vmrp_key_free(fx->signer);
    vmrp_key_free(fx->signer_pub);
    vmrp_key_free(fx->other);
    ut_rmtree(fx->dir);
}

/* ------------------------------------------------------------------ */
/* What the reader and verify must say.                               */

/* The edited copy a is written to fx->work; the reader, given pub (or no
 * key), opens it and reads every disk of every point. */
static void accepted(const fixture *fx, const unsigned char *a, const vmrp_key *pub,
                     const char *label)
{
    ut_write_file(fx->work, a, fx->len);
    vmrp_reader *r = vmrp_reader_new();
    if (pub)
        vmrp_reader_set_public_key(r, pub);
    int rc = vmrp_reader_open(r, fx->work);
    ck_assert_msg(rc == VMRP_OK, "%s: the reader refused it: %s", label,
                  vmrp_reader_error_string(r));
    ck_assert_uint_eq(vmrp_reader_point_count(r), 2);
    for (uint32_t k = 0; k < 2; k++) {
        const vmrp_point_info *pi = vmrp_reader_point(r, k);
        for (uint32_t d = 0; d < pi->disk_count; d++) {
            unsigned char *img = NULL;
            uint64_t size;
            if (pi->disks[d].excluded)
                continue;
            ck_assert_msg(ut_read_image(r, k, pi->disks[d].name, &img, &size) == VMRP_OK,
                          "%s: point %u disk %s: %s", label, k + 1, pi->disks[d].name,
                          vmrp_reader_error_string(r));
            free(img);
        }
    }
    vmrp_reader_free(r);
    vmrp_verify_report rep;
    char msg[600];
    rc = ut_verify_file(fx->work, 0, pub, &rep, msg, sizeof msg);
    ck_assert_msg(rc == VMRP_OK, "%s: verify refused it: %s", label, msg);
    ck_assert_uint_eq(rep.points, 2);
}

/* The edited copy a is written to fx->work; vmrp_reader_open (given pub,
 * or no key) must refuse it with VMRP_E_CORRUPT and a message that names
 * the archive and holds reader_says; verify must refuse it too, at point
 * `point` and offset `at`, with a message that holds verify_says. */
static void refused(const fixture *fx, const unsigned char *a, const vmrp_key *pub,
                    uint32_t point, uint64_t at, const char *reader_says, const char *verify_says)
{
    ut_write_file(fx->work, a, fx->len);
    vmrp_reader *r = vmrp_reader_new();
    if (pub)
        vmrp_reader_set_public_key(r, pub);
    int rc = vmrp_reader_open(r, fx->work);
    const char *msg = vmrp_reader_error_string(r);
    ck_assert_msg(rc == VMRP_E_CORRUPT, "reader: expected VMRP_E_CORRUPT with '%s', got %d (%s)",
                  reader_says, rc, msg);
    ck_assert_msg(strstr(msg, reader_says) != NULL && strstr(msg, fx->work) != NULL,
                  "reader: expected '%s' about %s, got '%s'", reader_says, fx->work, msg);
    vmrp_reader_free(r);
    vmrp_verify_report rep;
    char vmsg[600];
    rc = ut_verify_file(fx->work, 0, pub, &rep, vmsg, sizeof vmsg);
    ck_assert_msg(rc == VMRP_E_CORRUPT, "verify: expected VMRP_E_CORRUPT with '%s', got %d (%s)",
                  verify_says, rc, vmsg);
    char where[64];
    snprintf(where, sizeof where, "point %u, offset %llu: ", point, (unsigned long long)at);
    ck_assert_msg(strstr(vmsg, where) != NULL && strstr(vmsg, verify_says) != NULL,
                  "verify: expected '%s%s', got '%s'", where, verify_says, vmsg);
    ck_assert_uint_eq(rep.error_point, point);
    ck_assert_uint_eq(rep.error_offset, at);
}

/* ------------------------------------------------------------------ */
/* Editing one point's POINT record.                                  */

typedef struct {
    unsigned char *a;     /* a copy of the archive */
    ut_segment s;         /* the point's segment */
    unsigned char *entry; /* the POINT record's INDEX entry */
    unsigned char *p;     /* its payload */
    size_t len;
    uint64_t offset; /* the POINT record's */
} point_edit;

/* A copy of the archive, open at the POINT record of point k (0-based). */
static point_edit edit_point(const fixture *fx, uint32_t k)
{
    point_edit e;
    e.a = ut_dup(fx->bytes, fx->len);
    e.s = ut_segment_at(e.a, fx->commit[k]);
    e.entry = ut_index_find(&e.s, REC_POINT, 0);
    ck_assert_ptr_nonnull(e.entry);
    e.p = ut_plain_payload(&e.s, e.entry, &e.len);
    e.offset = le64_load(e.entry + IXE_OFF_OFFSET);
    return e;
}

/* Seal the edited point again: its Record_Hash, its INDEX's hash, the
 * commit chain (signed again with signer, when given). */
static void seal_point(const fixture *fx, point_edit *e, const vmrp_key *signer)
{
    ut_seal_entry(&e->s, e->entry);
    ut_seal_index(&e->s);
    ut_seal_chain(e->a, fx->len, signer);
}

/* The disk entry of the point with this name. */
static unsigned char *disk_named(unsigned char *p, const char *name)
{
    for (uint32_t i = 0; i < le32_load(p + PT_OFF_DISK_COUNT); i++) {
        unsigned char *d = ut_point_disk(p, i);
        uint32_t n = le32_load(d + PD_OFF_NAME_SIZE);
        if (n == strlen(name) && memcmp(d + PD_FIXED_SIZE, name, n) == 0)
            return d;
    }
    ck_abort_msg("no disk %s in the point", name);
    return NULL;
}

/* Rename a disk entry, to a name of the same length. */
static void rename_disk(unsigned char *d, const char *name)
{
    ck_assert_uint_eq(le32_load(d + PD_OFF_NAME_SIZE), strlen(name));
    memcpy(d + PD_FIXED_SIZE, name, strlen(name));
}

static unsigned char *map_offset(unsigned char *d, uint32_t m)
{
    ck_assert_uint_lt(m, le32_load(d + PD_OFF_MAP_COUNT));
    return d + PD_FIXED_SIZE + le32_load(d + PD_OFF_NAME_SIZE) + 8u * m;
}

/* The offset of the segment's record number nth of this type. */
static uint64_t record_of(const ut_segment *s, uint8_t type, uint32_t nth)
{
    unsigned char *e = ut_index_find(s, type, nth);
    ck_assert_ptr_nonnull(e);
    return le64_load(e + IXE_OFF_OFFSET);
}

/* ------------------------------------------------------------------ */
/* Forged, moved and stale commit signatures (format 6.1): given the    */
/* public key, every commit of the chain must verify.                   */

static fixture signed_fx;

static void signed_setup(void)
{
    build(&signed_fx, 1);
}

static void signed_teardown(void)
{
    fixture_free(&signed_fx);
}

static unsigned char *signature_of(unsigned char *a, uint64_t commit)
{
    return a + commit + RH_SIZE + CM_OFF_SIGNATURE;
}

START_TEST(test_signed_control)
{
    fixture *fx = &signed_fx;
    /* signed again with the right key: nothing changes */
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    ut_seal_chain(a, fx->len, fx->signer);
    ck_assert_mem_eq(a, fx->bytes, fx->len); /* Ed25519 signatures are deterministic */
    accepted(fx, a, fx->signer_pub, "signed, sealed again");
    accepted(fx, a, NULL, "signed, read without a key");
    /* with another key's public half, the head commit is the first refused */
    char says[200];
    snprintf(says, sizeof says, "the commit of point 2 (offset %llu) is signed by key %s, not by %s",
             (unsigned long long)fx->commit[1], fx->signer_id, fx->other_id);
    char vsays[200];
    snprintf(vsays, sizeof vsays, "the commit is signed by key %s, not by %s", fx->signer_id,
             fx->other_id);
    vmrp_key *other_pub = ut_public_half(fx->other, fx->dir, "other");
    ut_write_file(fx->work, a, fx->len);
    vmrp_reader *r = vmrp_reader_new();
    vmrp_reader_set_public_key(r, other_pub);
    ck_assert_int_eq(vmrp_reader_open(r, fx->work), VMRP_E_CORRUPT);
    ck_assert_msg(strstr(vmrp_reader_error_string(r), says), "%s", vmrp_reader_error_string(r));
    vmrp_reader_free(r);
    vmrp_verify_report rep;
    char msg[600];
    ck_assert_int_eq(ut_verify_file(fx->work, 0, other_pub, &rep, msg, sizeof msg), VMRP_E_CORRUPT);
    /* verify walks forward: point 1 is the first it meets */
    snprintf(vsays, sizeof vsays, "point 1, offset %llu: the commit is signed by key %s, not by %s",
             (unsigned long long)fx->commit[0], fx->signer_id, fx->other_id);
    ck_assert_msg(strstr(msg, vsays), "%s", msg);
    vmrp_key_free(other_pub);
    free(a);
}
END_TEST

/* One bit of a Signature flipped, at the head and at the first commit:
 * the Commit_Hash does not cover it, so nothing else changes. */
START_TEST(test_signature_bit_flipped)
{
    fixture *fx = &signed_fx;
    char says[200];
    for (uint32_t k = 0; k < 2; k++) {
        unsigned char *a = ut_dup(fx->bytes, fx->len);
        signature_of(a, fx->commit[k])[17] ^= 0x08;
        snprintf(says, sizeof says, "the commit of point %u (offset %llu) has a signature that does not verify",
                 k + 1, (unsigned long long)fx->commit[k]);
        refused(fx, a, fx->signer_pub, k + 1, fx->commit[k], says,
                "the commit has a signature that does not verify");
        accepted(fx, a, NULL, "flipped signature, read without a key");
        free(a);
    }
}
END_TEST

/* A valid-looking signature that is not the right one: the head commit's
 * Commit_Hash signed by another key under the signer's key id, and the
 * signer's own signature of the other commit. */
START_TEST(test_signature_forged_or_moved)
{
    fixture *fx = &signed_fx;
    char says[200];
    snprintf(says, sizeof says, "the commit of point 2 (offset %llu) has a signature that does not verify",
             (unsigned long long)fx->commit[1]);
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    unsigned char h[HASH_SIZE];
    commit_hash(a + fx->commit[1], h);
    ck_assert_int_eq(key_sign_commit(fx->other, h, signature_of(a, fx->commit[1])), VMRP_OK);
    ck_assert(key_verify_commit(fx->other, h, signature_of(a, fx->commit[1])));
    refused(fx, a, fx->signer_pub, 2, fx->commit[1], says,
            "the commit has a signature that does not verify");
    free(a);

    a = ut_dup(fx->bytes, fx->len);
    memcpy(signature_of(a, fx->commit[1]), signature_of(a, fx->commit[0]), SIGNATURE_SIZE);
    refused(fx, a, fx->signer_pub, 2, fx->commit[1], says,
            "the commit has a signature that does not verify");
    free(a);
}
END_TEST

/* The first commit signed by another key, with that key's id, or not
 * signed at all; the chain sealed again and the head signed again by the
 * signer, so only the first commit is wrong: every commit is checked, not
 * only the head. */
START_TEST(test_signature_earlier_commit_replaced)
{
    fixture *fx = &signed_fx;
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    unsigned char *p = a + fx->commit[0] + RH_SIZE;
    memcpy(p + CM_OFF_KEY_ID, key_keynum(fx->other), KEY_ID_SIZE);
    unsigned char h[HASH_SIZE];
    commit_hash(a + fx->commit[0], h);
    ck_assert_int_eq(key_sign_commit(fx->other, h, p + CM_OFF_SIGNATURE), VMRP_OK);
    ut_seal_chain(a, fx->len, fx->signer);
    accepted(fx, a, NULL, "first commit signed by another key, read without a key");
    char says[200], vsays[200];
    snprintf(says, sizeof says, "the commit of point 1 (offset %llu) is signed by key %s, not by %s",
             (unsigned long long)fx->commit[0], fx->other_id, fx->signer_id);
    snprintf(vsays, sizeof vsays, "the commit is signed by key %s, not by %s", fx->other_id,
             fx->signer_id);
    refused(fx, a, fx->signer_pub, 1, fx->commit[0], says, vsays);
    free(a);

    a = ut_dup(fx->bytes, fx->len);
    p = a + fx->commit[0] + RH_SIZE;
    le64_store(p + CM_OFF_FLAGS, 0);
    memset(p + CM_OFF_KEY_ID, 0, KEY_ID_SIZE + SIGNATURE_SIZE);
    ut_seal_chain(a, fx->len, fx->signer);
    accepted(fx, a, NULL, "first commit unsigned, read without a key");
    snprintf(says, sizeof says, "the commit of point 1 (offset %llu) is not signed",
             (unsigned long long)fx->commit[0]);
    refused(fx, a, fx->signer_pub, 1, fx->commit[0], says, "the commit is not signed");
    free(a);
}
END_TEST

/* Content altered and every hash sealed again, by someone without the
 * secret key: the archive is consistent, only the signatures tell. An
 * edit of point 1 changes both Commit_Hashes (commit 2 holds commit 1's):
 * the reader, which walks the chain from the head, names point 2, and
 * verify, which reads forward, point 1. */
START_TEST(test_signature_stale_after_reseal)
{
    fixture *fx = &signed_fx;
    for (uint32_t k = 0; k < 2; k++) {
        point_edit e = edit_point(fx, k);
        le64_store(e.p + PT_OFF_TIME, 42); /* harmless by itself */
        seal_point(fx, &e, NULL);
        accepted(fx, e.a, NULL, "altered and sealed again, read without a key");
        char says[200];
        snprintf(says, sizeof says, "the commit of point 2 (offset %llu) has a signature that does not verify",
                 (unsigned long long)fx->commit[1]);
        refused(fx, e.a, fx->signer_pub, k + 1, fx->commit[k], says,
                "the commit has a signature that does not verify");
        free(e.a);
    }
}
END_TEST

/* ------------------------------------------------------------------ */
/* Rules of POINT records across points (unsigned archive).            */

static fixture plain_fx;

static void plain_setup(void)
{
    build(&plain_fx, 0);
}

static void plain_teardown(void)
{
    fixture_free(&plain_fx);
}

START_TEST(test_plain_control)
{
    fixture *fx = &plain_fx;
    for (uint32_t k = 0; k < 2; k++) {
        point_edit e = edit_point(fx, k);
        le64_store(e.p + PT_OFF_TIME, 42);
        seal_point(fx, &e, NULL);
        accepted(fx, e.a, NULL, "a harmless edit, sealed again");
        free(e.a);
    }
}
END_TEST

/* Format 5.4.2: across the collection a name and a Family_Id belong
 * together. Each edit breaks it one way. */
START_TEST(test_family_changed)
{
    fixture *fx = &plain_fx;
    /* a keeps its name under a new family */
    point_edit e = edit_point(fx, 1);
    disk_named(e.p, "a")[PD_OFF_FAMILY_ID] ^= 0x01;
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset, "point 2, disk a: Family_Id differs from point 1's disk a",
            "disk a: Family_Id differs from disk a of an earlier point");
    free(e.a);
}
END_TEST

START_TEST(test_family_of_excluded_disk_changed)
{
    fixture *fx = &plain_fx;
    /* an excluded disk may start a new family only in an encrypted archive */
    point_edit e = edit_point(fx, 1);
    unsigned char *b = disk_named(e.p, "b");
    ck_assert_uint_eq(le32_load(b + PD_OFF_FLAGS), DISK_FLAG_EXCLUDED);
    b[PD_OFF_FAMILY_ID + 5] ^= 0x20;
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset, "point 2, disk b: Family_Id differs from point 1's disk b",
            "disk b: Family_Id differs from disk b of an earlier point");
    free(e.a);
}
END_TEST

START_TEST(test_family_taken_by_another_name)
{
    fixture *fx = &plain_fx;
    /* the new disk c takes the family of point 1's x (absent from point 2) */
    point_edit e = edit_point(fx, 1);
    point_edit one = edit_point(fx, 0);
    memcpy(disk_named(e.p, "c") + PD_OFF_FAMILY_ID, disk_named(one.p, "x") + PD_OFF_FAMILY_ID,
           ID_SIZE);
    free(one.a);
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset, "point 2, disk c: Family_Id is that of point 1's disk x",
            "disk c: Family_Id is that of disk x of an earlier point");
    free(e.a);
}
END_TEST

START_TEST(test_family_renamed)
{
    fixture *fx = &plain_fx;
    /* disk a renamed d in point 2, its family kept */
    point_edit e = edit_point(fx, 1);
    rename_disk(disk_named(e.p, "a"), "d");
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset, "point 2, disk d: Family_Id is that of point 1's disk a",
            "disk d: Family_Id is that of disk a of an earlier point");
    free(e.a);
}
END_TEST

START_TEST(test_family_renamed_in_an_earlier_segment)
{
    fixture *fx = &plain_fx;
    /* disk b renamed e in point 1: segment 1 and the commit chain are
     * sealed again; point 2's b now carries the family of point 1's e */
    point_edit e = edit_point(fx, 0);
    rename_disk(disk_named(e.p, "b"), "e");
    seal_point(fx, &e, NULL);
    ut_segment two = ut_segment_at(e.a, fx->commit[1]);
    uint64_t point2 = record_of(&two, REC_POINT, 0);
    refused(fx, e.a, NULL, 2, point2, "point 2, disk b: Family_Id is that of point 1's disk e",
            "disk b: Family_Id is that of disk e of an earlier point");
    free(e.a);
}
END_TEST

/* Format 5.4.1: in an unencrypted collection a point name is unique. */
START_TEST(test_duplicate_point_name)
{
    fixture *fx = &plain_fx;
    point_edit e = edit_point(fx, 1);
    ck_assert_uint_eq(le32_load(e.p + PT_OFF_NAME_SIZE), 2);
    ck_assert_mem_eq(e.p + PT_FIXED_SIZE, "p2", 2);
    memcpy(e.p + PT_FIXED_SIZE, "p1", 2);
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset, "point 2: name 'p1' is also point 1's",
            "name 'p1' is also point 1's");
    free(e.a);
}
END_TEST

/* Format 5.4.2: FULL is for encrypted collections only. */
START_TEST(test_full_without_encryption)
{
    fixture *fx = &plain_fx;
    point_edit e = edit_point(fx, 1);
    le32_store(disk_named(e.p, "a") + PD_OFF_FLAGS, DISK_FLAG_FULL);
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset,
            "point 2, disk a: FULL flag in an archive without encryption",
            "disk a: FULL flag in an archive without encryption");
    free(e.a);
}
END_TEST

/* Format 5.4.2: each Map_Record_Offset is a MAP record of the point's own
 * segment: not one of an earlier segment, not another record type, not
 * the middle of a record. */
START_TEST(test_foreign_map_record)
{
    fixture *fx = &plain_fx;
    ut_segment one = ut_segment_at(fx->bytes, fx->commit[0]);
    ut_segment two = ut_segment_at(fx->bytes, fx->commit[1]);
    uint64_t own_map = record_of(&two, REC_MAP, 0);
    const uint64_t targets[] = {record_of(&one, REC_MAP, 0), record_of(&two, REC_BLOCK, 0),
                                record_of(&two, REC_POINT, 0), own_map + 16, own_map + 1};
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        point_edit e = edit_point(fx, 1);
        unsigned char *m = map_offset(disk_named(e.p, "a"), 0);
        ck_assert_uint_eq(le64_load(m), own_map);
        le64_store(m, targets[t]);
        seal_point(fx, &e, NULL);
        char says[200], vsays[200];
        snprintf(says, sizeof says,
                 "point 2, disk a: map 0 at offset %llu is not a MAP record of its segment",
                 (unsigned long long)targets[t]);
        snprintf(vsays, sizeof vsays, "disk a: map 0 names offset %llu, not a MAP record of this point",
                 (unsigned long long)targets[t]);
        refused(fx, e.a, NULL, 2, e.offset, says, vsays);
        free(e.a);
    }
}
END_TEST

/* Format 5.4.3: File_Record_Offset is a FILE record (here inherited from
 * segment 1). */
START_TEST(test_bad_file_offset)
{
    fixture *fx = &plain_fx;
    ut_segment one = ut_segment_at(fx->bytes, fx->commit[0]);
    ut_segment two = ut_segment_at(fx->bytes, fx->commit[1]);
    uint64_t file = record_of(&one, REC_FILE, 0);
    const uint64_t targets[] = {record_of(&one, REC_BLOCK, 0), record_of(&two, REC_MAP, 0),
                                file + 1, record_of(&two, REC_POINT, 0)};
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        point_edit e = edit_point(fx, 1);
        unsigned char *f = ut_point_file(e.p, 0);
        ck_assert_uint_eq(le64_load(f + PF_OFF_RECORD), file);
        le64_store(f + PF_OFF_RECORD, targets[t]);
        seal_point(fx, &e, NULL);
        char says[200], vsays[200];
        snprintf(says, sizeof says, "point 2, config file cfg/x.xml: offset %llu is not a FILE record",
                 (unsigned long long)targets[t]);
        snprintf(vsays, sizeof vsays,
                 "config file cfg/x.xml: record at %llu missing or not matching its Content_Hash",
                 (unsigned long long)targets[t]);
        refused(fx, e.a, NULL, 2, e.offset, says, vsays);
        free(e.a);
    }
}
END_TEST

/* Format 5.4.1: Sequence i and Parent_Sequence i - 1 in point i. */
START_TEST(test_sequence_out_of_chain)
{
    fixture *fx = &plain_fx;
    point_edit e = edit_point(fx, 1);
    ck_assert_uint_eq(le32_load(e.p + PT_OFF_PARENT), 1);
    le32_store(e.p + PT_OFF_PARENT, 0);
    seal_point(fx, &e, NULL);
    refused(fx, e.a, NULL, 2, e.offset,
            "point 2: Sequence 2 / Parent_Sequence 0 do not follow the commit chain",
            "Sequence 2 / Parent_Sequence 0 out of order");
    free(e.a);
}
END_TEST

/* Format 6: each commit holds the Commit_Hash of the one before it. Commit
 * 1 altered (its Time_Committed) and its successor left as it was. */
START_TEST(test_commit_chain_broken)
{
    fixture *fx = &plain_fx;
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    le64_store(a + fx->commit[0] + RH_SIZE + CM_OFF_TIME, 42);
    char says[200];
    snprintf(says, sizeof says, "commit at offset %llu does not match the hash its successor holds",
             (unsigned long long)fx->commit[0]);
    refused(fx, a, NULL, 2, fx->commit[1], says, "commit does not chain to the previous commit");
    ut_seal_chain(a, fx->len, NULL);
    accepted(fx, a, NULL, "commit 1 altered, the chain sealed again");
    free(a);
}
END_TEST

/* Format 7.1: no more commits than Max_Points. The header says 1, sealed
 * again with every commit's File_Header_Hash. */
START_TEST(test_more_points_than_max_points)
{
    fixture *fx = &plain_fx;
    unsigned char *a = ut_dup(fx->bytes, fx->len);
    le32_store(a + FH_OFF_MAX_POINTS, 1);
    hash_buf(a + FH_OFF_HEADER_HASH, a, FH_OFF_HEADER_HASH);
    for (uint32_t k = 0; k < 2; k++)
        hash_buf(a + fx->commit[k] + RH_SIZE + CM_OFF_HEADER_HASH, a, FH_SIZE);
    ut_seal_chain(a, fx->len, NULL);
    refused(fx, a, NULL, 2, fx->commit[1],
            "commit chain does not start at point 1 or exceeds Max_Points",
            "more points than Max_Points 1");
    free(a);
}
END_TEST

static Suite *resealed_suite(void)
{
    Suite *s = suite_create("resealed");
    TCase *tc = tcase_create("signatures");
    tcase_add_unchecked_fixture(tc, signed_setup, signed_teardown);
    tcase_add_test(tc, test_signed_control);
    tcase_add_test(tc, test_signature_bit_flipped);
    tcase_add_test(tc, test_signature_forged_or_moved);
    tcase_add_test(tc, test_signature_earlier_commit_replaced);
    tcase_add_test(tc, test_signature_stale_after_reseal);
    suite_add_tcase(s, tc);
    tc = tcase_create("families");
    tcase_add_unchecked_fixture(tc, plain_setup, plain_teardown);
    tcase_add_test(tc, test_plain_control);
    tcase_add_test(tc, test_family_changed);
    tcase_add_test(tc, test_family_of_excluded_disk_changed);
    tcase_add_test(tc, test_family_taken_by_another_name);
    tcase_add_test(tc, test_family_renamed);
    tcase_add_test(tc, test_family_renamed_in_an_earlier_segment);
    suite_add_tcase(s, tc);
    tc = tcase_create("points");
    tcase_add_unchecked_fixture(tc, plain_setup, plain_teardown);
    tcase_add_test(tc, test_duplicate_point_name);
    tcase_add_test(tc, test_full_without_encryption);
    tcase_add_test(tc, test_foreign_map_record);
    tcase_add_test(tc, test_bad_file_offset);
    tcase_add_test(tc, test_sequence_out_of_chain);
    tcase_add_test(tc, test_commit_chain_broken);
    tcase_add_test(tc, test_more_points_than_max_points);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ut_run_suite(resealed_suite());
}
