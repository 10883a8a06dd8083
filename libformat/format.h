/* format.h - on-disk constants of the vmrp format, version 1.
 *
 * Every number here is defined in format-spec/vmrp-format.md; change both
 * together. On-disk integers are little-endian and are only ever read and
 * written through the le*_load / le*_store helpers below, never by casting
 * a struct over the bytes.
 */
#ifndef VMRP_FORMAT_H
#define VMRP_FORMAT_H

#include <stdint.h>

/* ---- File header (128 bytes at offset 0) ---- */
#define FH_SIZE 128u
#define FH_MAGIC "\x89VMRP\r\n\x1a"
#define FH_MAGIC_SIZE 8u
#define FH_OFF_MAGIC 0
#define FH_OFF_MAJOR 8
#define FH_OFF_MINOR 10
#define FH_OFF_HEADER_SIZE 12
#define FH_OFF_INCOMPAT 16
#define FH_OFF_COMPAT 24
#define FH_OFF_COLLECTION_ID 32
#define FH_OFF_BLOCK_SIZE 48
#define FH_OFF_MAX_POINTS 52
#define FH_OFF_TIME_CREATED 56
#define FH_OFF_RESERVED 64
#define FH_RESERVED_SIZE 32u
#define FH_OFF_HEADER_HASH 96

#define FORMAT_MAJOR 1u
#define FORMAT_MINOR 2u /* 1.1: signed commits; 1.2: encryption */
/* Unencrypted collections use nothing of 1.2: writers keep writing 1. */
#define FORMAT_MINOR_PLAIN 1u

/* Incompat (must-understand) feature bits. */
#define FEATURE_INCOMPAT_ENCRYPTED (1ull << 0)
#define FEATURE_INCOMPAT_KNOWN FEATURE_INCOMPAT_ENCRYPTED
/* Compat (may-ignore) feature bits: none defined up to 1.2. */

/* ---- Record header (16 bytes before every record payload) ---- */
#define RH_SIZE 16u
#define RH_MAGIC "VRec"
#define RH_OFF_MAGIC 0
#define RH_OFF_TYPE 4
#define RH_OFF_CODEC 5
#define RH_OFF_FLAGS 6
#define RH_OFF_RESERVED 7
#define RH_OFF_STORED_SIZE 8
#define RH_OFF_RAW_SIZE 12

enum record_type {
    REC_BLOCK = 1,
    REC_MAP = 2,
    REC_FILE = 3,
    REC_POINT = 4,
    REC_INDEX = 5,
    REC_COMMIT = 6,
    REC_KEYS = 7 /* key slots and segment keys of encrypted collections */
};

enum record_codec { CODEC_NONE = 0, CODEC_ZSTD = 1, CODEC_ZLIB = 2 };

#define RECORD_FLAG_ENCRYPTED 0x01u
/* An encrypted payload: 24-byte nonce || ciphertext || 16-byte tag. */
#define RECORD_NONCE_SIZE 24u
#define RECORD_TAG_SIZE 16u
#define RECORD_CRYPTO_OVERHEAD 40u
#define RECORD_AD_SIZE 40u /* Collection_Id || Record_Offset || Record_Header */

/* ---- KEYS payload (encrypted collections; first record of each segment) ---- */
#define KEY_SIZE 32u /* X25519 keys, Data_Key, Id_Key, Collection secret */
#define KY_FIXED_SIZE 64u
#define KY_OFF_PUBLIC 0
#define KY_OFF_SLOT_COUNT 32
#define KY_OFF_RESERVED 36
#define KY_OFF_SEGMENT_BOX 64
#define KY_SEGMENT_PLAIN_SIZE 88u /* Data_Key || Id_Key || Collection_Id || Segment_Offset */
#define KY_SEGMENT_BOX_SIZE (KY_SEGMENT_PLAIN_SIZE + 48u) /* + crypto_box_SEALBYTES */
#define KY_SLOTS_OFFSET (KY_OFF_SEGMENT_BOX + KY_SEGMENT_BOX_SIZE) /* 200 */
#define KY_SLOT_SIZE 128u
#define KY_SLOTS_MAX 64u
#define KY_RAW_MAX (KY_SLOTS_OFFSET + KY_SLOT_SIZE * KY_SLOTS_MAX)
#define SLOT_OFF_TYPE 0
#define SLOT_OFF_RESERVED 1
#define SLOT_PASSPHRASE 1u
#define SLOT_RECIPIENT 2u
#define SLOT_OFF_OPSLIMIT 8
#define SLOT_OFF_MEMLIMIT 16
#define SLOT_OFF_SALT 24
#define SLOT_OFF_NONCE 40
#define SLOT_OFF_WRAPPED 64  /* 32 + 16-byte tag */
#define SLOT_OFF_PASS_RESERVED 112
#define SLOT_PASS_AD_PARAMS 40u /* slot bytes 0..39 are associated data */
#define SLOT_OFF_KEY_ID 8
#define SLOT_OFF_RECIPIENT 16
#define SLOT_OFF_SEALED 48   /* 32 + crypto_box_SEALBYTES */
#define KDF_OPSLIMIT_MIN 1u
#define KDF_OPSLIMIT_MAX 10u
#define KDF_MEMLIMIT_MIN 8192u
#define KDF_MEMLIMIT_MAX (1ull << 30)
#define KDF_OPSLIMIT_DEFAULT 2u
#define KDF_MEMLIMIT_DEFAULT (64ull << 20)

/* ---- Limits (spec section "Limits") ---- */
#define BLOCK_SIZE_MIN 4096u
#define BLOCK_SIZE_MAX (4u << 20)
#define BLOCK_SIZE_DEFAULT 65536u
#define MAX_POINTS_DEFAULT 200u
#define MAX_POINTS_LIMIT 65535u
#define MAP_ENTRY_SIZE 48u
#define MAP_ENTRIES_PER_RECORD 65536u
#define FILE_RAW_MAX (64u << 20)
#define POINT_RAW_MAX (32u << 20)
#define SOURCE_METADATA_MAX (16u << 20)
#define POINT_NAME_MAX 255u
#define DISK_NAME_MAX 64u
#define CONFIG_NAME_MAX 4096u
#define DISKS_PER_POINT_MAX 256u
#define CONFIG_FILES_PER_POINT_MAX 4096u
#define INDEX_ENTRIES_MAX (1u << 26)
#define DISK_SIZE_MAX (1ull << 62)

/* ---- INDEX payload ---- */
#define IX_HEADER_SIZE 16u
#define IX_OFF_ENTRY_COUNT 0
#define IX_OFF_RESERVED 4
#define IX_OFF_POINT_OFFSET 8
#define IX_ENTRY_SIZE 48u
#define IXE_OFF_OFFSET 0
#define IXE_OFF_SIZE 8
#define IXE_OFF_TYPE 12
#define IXE_OFF_RESERVED 13
#define IXE_OFF_HASH 16

/* ---- COMMIT payload (fixed; the record is also the file trailer) ---- */
#define CM_PAYLOAD_SIZE 240u
#define CM_RECORD_SIZE (RH_SIZE + CM_PAYLOAD_SIZE)
#define CM_OFF_SEQUENCE 0
#define CM_OFF_POINT_COUNT 4
#define CM_OFF_COMMIT_OFFSET 8
#define CM_OFF_SEGMENT_OFFSET 16
#define CM_OFF_INDEX_OFFSET 24
#define CM_OFF_INDEX_SIZE 32
#define CM_OFF_INDEX_HASH 40
#define CM_OFF_PREV_OFFSET 72
#define CM_OFF_PREV_HASH 80
#define CM_OFF_HEADER_HASH 112
#define CM_OFF_TIME 144
#define CM_OFF_FLAGS 152
#define CM_OFF_KEY_ID 160
#define CM_OFF_SIGNATURE 168
#define CM_OFF_END_MAGIC 232
#define CM_HASHED_SIZE 168u /* payload bytes covered by Commit_Hash */
#define CM_END_MAGIC "VMRPEND\x1a"
#define COMMIT_FLAG_SIGNED (1ull << 0)
/* An Ed25519 commit signature signs this prefix followed by Commit_Hash. */
#define COMMIT_SIG_DOMAIN "vmrp-commit-v1"
#define COMMIT_SIG_DOMAIN_SIZE 14u
#define COMMIT_SIG_MSG_SIZE (COMMIT_SIG_DOMAIN_SIZE + HASH_SIZE)
#define KEY_ID_SIZE 8u
#define SIGNATURE_SIZE 64u

/* ---- POINT payload ---- */
#define PT_FIXED_SIZE 64u
#define PT_OFF_ID 0
#define PT_OFF_SEQUENCE 16
#define PT_OFF_PARENT 20
#define PT_OFF_TIME 24
#define PT_OFF_CONSISTENCY 32
#define PT_OFF_DISK_COUNT 36
#define PT_OFF_FILE_COUNT 40
#define PT_OFF_NAME_SIZE 44
#define PT_OFF_META_SIZE 48
#define PT_OFF_RESERVED 52

#define PD_FIXED_SIZE 64u
#define PD_OFF_FAMILY_ID 0
#define PD_OFF_DISK_SIZE 16
#define PD_OFF_SECTOR_SIZE 24
#define PD_OFF_FLAGS 28
#define PD_OFF_CHANGED 32
#define PD_OFF_STORED 40
#define PD_OFF_MAP_COUNT 48
#define PD_OFF_NAME_SIZE 52
#define PD_OFF_RESERVED 56
#define DISK_FLAG_EXCLUDED 0x1u
#define DISK_FLAG_FULL 0x2u /* encrypted collections: the map is complete */

#define PF_FIXED_SIZE 56u
#define PF_OFF_MODE 0
#define PF_OFF_NAME_SIZE 4
#define PF_OFF_FILE_SIZE 8
#define PF_OFF_RECORD 16
#define PF_OFF_HASH 24

/* ---- MAP entry ---- */
#define ME_OFF_BLOCK 0
#define ME_OFF_RECORD 8
#define ME_OFF_ID 16

#define HASH_SIZE 32u
#define ID_SIZE 16u

static inline uint16_t le16_load(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t le32_load(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t le64_load(const unsigned char *p)
{
    return (uint64_t)le32_load(p) | ((uint64_t)le32_load(p + 4) << 32);
}
static inline void le16_store(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void le32_store(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline void le64_store(unsigned char *p, uint64_t v)
{
    le32_store(p, (uint32_t)v);
    le32_store(p + 4, (uint32_t)(v >> 32));
}

#endif
