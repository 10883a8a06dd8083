/**
 * @file vmrp.h
 * @brief libvmrp: write, read and verify vmrp restore point archives.
 *
 * A vmrp archive is one file that holds a *restore point collection* for one
 * virtual machine. Each restore point keeps the VM configuration (a JSON
 * document plus any number of configuration files) and one *disk restore
 * point* per attached disk. A disk's first point stores every non-zero
 * block; later points store only the blocks that changed. The byte layout is
 * defined in `format-spec/vmrp-format.md`; this header is the manual of the
 * library that implements it.
 *
 * ### Conventions
 * - Every exported symbol starts with `vmrp_`; handles are opaque.
 * - Functions that can fail return `0` (::VMRP_OK) or a negative
 *   ::vmrp_error code, which GCC and Clang warn about when it is ignored
 *   (`warn_unused_result`). Codes are never renumbered. The handle keeps a
 *   message naming the file, restore point, disk or field at fault; read it
 *   with vmrp_writer_error_string() or vmrp_reader_error_string().
 * - A handle whose operation failed with ::VMRP_E_CORRUPT, ::VMRP_E_IO or
 *   ::VMRP_E_NOMEM in the middle of a write stays failed: only
 *   vmrp_writer_free() is allowed afterwards.
 * - Strings are NUL-terminated UTF-8. Pointers returned by the library are
 *   owned by the handle and stay valid until it is freed.
 * - Call vmrp_init() once before anything else (it initialises libsodium).
 *
 * ### Writing (packing) a restore point
 * 1. vmrp_writer_new()
 * 2. vmrp_writer_open() on a path (creates the archive, or locks an existing
 *    one for appending), or vmrp_writer_open_stream() on a pipe.
 * 3. vmrp_writer_set_point(), vmrp_writer_set_source_metadata(),
 *    vmrp_writer_add_config_file(), then vmrp_writer_add_disk() and
 *    vmrp_writer_exclude_disk() for each disk.
 * 4. vmrp_writer_commit(): the point becomes visible, atomically.
 * 5. vmrp_writer_free(). Freeing a writer that did not commit removes
 *    everything it wrote: the archive is left exactly as its last commit
 *    left it.
 *
 * ### Reading
 * 1. vmrp_reader_new(), vmrp_reader_open().
 * 2. vmrp_reader_collection(), vmrp_reader_point_count(),
 *    vmrp_reader_point(), vmrp_reader_find_point().
 * 3. vmrp_reader_restore_disk() / vmrp_reader_read_disk(),
 *    vmrp_reader_read_config_file().
 * 4. vmrp_reader_free().
 *
 * ### Verifying
 * vmrp_reader_verify() reads an archive sequentially (a file or a pipe),
 * checks every byte against the hash chain and every block against its
 * identity, and reports the first problem with its byte offset;
 * vmrp_reader_set_verify_flags() with ::VMRP_VERIFY_QUICK leaves out the
 * decoding of blocks (hashes, structure and signatures only).
 *
 * ### Signing and encryption
 * - Signing: vmrp_writer_set_signing_key() with an Ed25519 key
 *   (vmrp_key_generate(), vmrp_key_load_secret()) signs the commit; a
 *   reader or verifier given vmrp_reader_set_public_key() refuses any commit
 *   not signed by that key.
 * - Encryption: vmrp_writer_set_encryption() before vmrp_writer_open()
 *   makes a new archive encrypted, to a passphrase and/or recipients
 *   (X25519 keys from vmrp_key_generate_encryption()); for an existing one it
 *   gives the key that opens it, or nothing, for an append without the key
 *   (a full point). Readers call vmrp_reader_set_decryption() before
 *   opening; without a key, opening fails with ::VMRP_E_KEY. A verifier
 *   without a key still checks every record against its hash and every
 *   signature (vmrp_verify_report::content_checked is then 0).
 * - Secret keys, passphrases and data keys are kept in sodium_malloc()'d
 *   memory, wiped when freed, and never appear in messages.
 *
 * ### Threads
 * - A handle (::vmrp_writer, ::vmrp_reader, ::vmrp_key) has no lock: calls
 *   on one handle must not overlap, error strings included. A handle may
 *   pass from one thread to another between calls (with the usual
 *   synchronisation: a mutex, a queue, a join). Different handles may be
 *   used at once from different threads: the library keeps no global state
 *   that changes after vmrp_init(), and two writers on one archive exclude
 *   each other within a process as between processes (flock(2) on each
 *   writer's own open file).
 * - A key given to writers and readers (vmrp_writer_set_signing_key(),
 *   vmrp_writer_set_public_key(), ::vmrp_encryption,
 *   vmrp_reader_set_public_key(), vmrp_reader_set_decryption()) is only read
 *   by them: one key may serve several handles on several threads at once,
 *   provided no call that changes it (vmrp_key_generate(),
 *   vmrp_key_generate_encryption(), vmrp_key_load_public(),
 *   vmrp_key_load_secret(), vmrp_key_save(), vmrp_key_sign_file(),
 *   vmrp_key_free()) runs meanwhile.
 * - Functions without a handle (vmrp_strerror(), vmrp_probe(), the helpers
 *   such as vmrp_json_validate()) may be called from any thread at any time
 *   after vmrp_init(), which must return before a second thread uses the
 *   library.
 * - The library runs worker threads of its own for the heavy work. A
 *   writer starts up to vmrp_writer_options::threads - 1 of them (by
 *   default one per online processor but one) in vmrp_writer_open() or
 *   vmrp_writer_open_stream(); they hash, compress and encrypt blocks while
 *   vmrp_writer_add_disk() runs, wait otherwise, and end in
 *   vmrp_writer_free(). vmrp_reader_read_disk() (and so
 *   vmrp_reader_restore_disk()) and vmrp_reader_verify() start up to one
 *   per online processor but one, to decrypt, decompress and check blocks,
 *   and join them before they return. Workers never call back into the
 *   program: progress callbacks, block sinks and passphrase sources run on
 *   the calling thread, one at a time.
 * - Workers inherit the signal mask of the thread that starts them: a
 *   program that takes signals on a thread of its choosing should block
 *   them in the others first. A child of fork() must not use a writer
 *   opened before the fork: its workers stay in the parent.
 * - Temporary files are made in `TMPDIR` (read with getenv()): do not change
 *   the environment while another thread is in the library.
 */
#ifndef VMRP_H
#define VMRP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(__GNUC__) && defined(VMRP_BUILDING_LIBRARY)
#define VMRP_API __attribute__((visibility("default")))
#else
#define VMRP_API
#endif

#if defined(__GNUC__)
#define VMRP_CHECK_RESULT __attribute__((warn_unused_result))
#else
#define VMRP_CHECK_RESULT
#endif
/** @endcond */

/** @name Version of the library (not of the file format). */
/**@{*/
/** Library major version: changes when the API or ABI breaks. */
#define VMRP_VERSION_MAJOR 0
/** Library minor version: new functions, compatible. */
#define VMRP_VERSION_MINOR 1
/** Library release: fixes only. */
#define VMRP_VERSION_RELEASE 0
/** The version as one number, MAJOR*10000 + MINOR*100 + RELEASE. */
#define VMRP_VERSION_NUMBER \
    (VMRP_VERSION_MAJOR * 10000 + VMRP_VERSION_MINOR * 100 + VMRP_VERSION_RELEASE)
/** The version as a string. */
#define VMRP_VERSION_STRING "0.1.0"
/**@}*/

/** Version of the archive format this library writes (major). */
#define VMRP_FORMAT_MAJOR 1
/** Version of the archive format this library writes (minor): 2 for an
 *  encrypted collection; an unencrypted one uses nothing of 1.2 and is
 *  written as 1.1. */
#define VMRP_FORMAT_MINOR 2

/** @return the library version as VMRP_VERSION_NUMBER (run-time value). */
VMRP_API unsigned vmrp_version_number(void);
/** @return the library version as a string such as "0.1.0". */
VMRP_API const char *vmrp_version_string(void);

/**
 * Initialise the library. Must be called once before any other function
 * (calling it again is harmless).
 * @return ::VMRP_OK, or ::VMRP_E_CRYPTO if libsodium cannot initialise.
 */
VMRP_API int vmrp_init(void) VMRP_CHECK_RESULT;

/**
 * Error codes returned by every function that can fail. Values are stable:
 * a code is never renumbered or reused, new codes take new values.
 */
typedef enum {
    VMRP_OK = 0,              /**< success */
    VMRP_E_USAGE = -1,        /**< invalid argument or call out of order */
    VMRP_E_IO = -2,           /**< input/output error (read, write, fsync, space) */
    VMRP_E_NOMEM = -3,        /**< out of memory */
    VMRP_E_NOT_ARCHIVE = -4,  /**< the file is not a vmrp archive */
    VMRP_E_VERSION = -5,      /**< unsupported format version or must-understand feature */
    VMRP_E_CORRUPT = -6,      /**< the archive is damaged or was tampered with */
    VMRP_E_LOCKED = -7,       /**< another writer holds the archive's lock */
    VMRP_E_LIMIT = -8,        /**< a limit of the format or of the collection is reached */
    VMRP_E_NOT_FOUND = -9,    /**< no such point, disk, file or path */
    VMRP_E_EXISTS = -10,      /**< the name is already taken */
    VMRP_E_KEY = -11,         /**< key or passphrase missing or wrong */
    VMRP_E_INPUT = -12,       /**< invalid input data (a disk, a config file, JSON) */
    VMRP_E_TORN = -13,        /**< the archive ends with an interrupted append */
    VMRP_E_CRYPTO = -14       /**< the cryptographic library failed */
} vmrp_error;

/** @cond INTERNAL */
/* The descriptions of vmrp_strerror(), one per code; error.c checks at
 * compile time that this list and the enum agree. */
#define VMRP_ERROR_LIST(X)                                                   \
    X(VMRP_OK, 0, "success")                                                 \
    X(VMRP_E_USAGE, -1, "invalid argument")                                  \
    X(VMRP_E_IO, -2, "input/output error")                                   \
    X(VMRP_E_NOMEM, -3, "out of memory")                                     \
    X(VMRP_E_NOT_ARCHIVE, -4, "not a vmrp archive")                          \
    X(VMRP_E_VERSION, -5, "unsupported format version or feature")           \
    X(VMRP_E_CORRUPT, -6, "archive is damaged or was tampered with")         \
    X(VMRP_E_LOCKED, -7, "archive is locked by another writer")              \
    X(VMRP_E_LIMIT, -8, "limit reached")                                     \
    X(VMRP_E_NOT_FOUND, -9, "not found")                                     \
    X(VMRP_E_EXISTS, -10, "already exists")                                  \
    X(VMRP_E_KEY, -11, "key or passphrase missing or wrong")                 \
    X(VMRP_E_INPUT, -12, "invalid input")                                    \
    X(VMRP_E_TORN, -13, "archive ends with an interrupted append")           \
    X(VMRP_E_CRYPTO, -14, "cryptographic library failure")
/** @endcond */

/**
 * @param code a ::vmrp_error value.
 * @return a static description of @p code ("unknown error" for a value that
 *         is not a ::vmrp_error).
 */
VMRP_API const char *vmrp_strerror(int code);

/** Compression codecs for stored records (API values; the codec ids
 *  stored in records are defined by the format spec). */
typedef enum {
    VMRP_CODEC_DEFAULT = 0, /**< the default: zstd */
    VMRP_CODEC_ZSTD = 1,    /**< zstd, levels 1..19, default 3 */
    VMRP_CODEC_ZLIB = 2,    /**< zlib (deflate), levels 1..9, default 6 */
    VMRP_CODEC_NONE = 3     /**< stored as is */
} vmrp_codec;

/** Consistency mode of a restore point (as in cloud VM restore points). */
typedef enum {
    VMRP_CONSISTENCY_CRASH = 1,      /**< CrashConsistent (the default) */
    VMRP_CONSISTENCY_FILESYSTEM = 2, /**< FileSystemConsistent */
    VMRP_CONSISTENCY_APPLICATION = 3 /**< ApplicationConsistent */
} vmrp_consistency;

/** @return "CrashConsistent", "FileSystemConsistent",
 *  "ApplicationConsistent", or NULL for another value. */
VMRP_API const char *vmrp_consistency_name(int mode);

/**
 * Progress callback for long operations, called on the thread that made
 * the call it reports on.
 * @param ctx   the pointer given with the callback
 * @param done  bytes processed so far
 * @param total bytes expected in all (0 when unknown)
 */
typedef void (*vmrp_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/** A byte range of a disk: data extents of a restored disk, or ranges that
 *  changed since the last point. */
typedef struct {
    uint64_t offset; /**< byte offset in the disk */
    uint64_t length; /**< bytes */
} vmrp_extent;

/* ------------------------------------------------------------------------ */
/** @name Signing keys
 *
 * Ed25519 keys in minisign's file formats: a key made by `minisign -G`
 * signs vmrp archives, a key made by vmrp_key_save() works with minisign,
 * and `minisign -V` verifies the detached signatures of
 * vmrp_key_sign_file(). The secret half lives in sodium_malloc'd memory,
 * locked and guarded, and is wiped when the key is freed.
 */
/**@{*/

/** Opaque key handle: a public key, or a secret key with its public half. */
typedef struct vmrp_key_s vmrp_key;

/**
 * Supplies a passphrase: for a secret key file protected by one (only once
 * the file is known to hold a key of the kind wanted), or for an encrypted
 * archive with a passphrase slot. Called on the thread that opens it.
 * @param ctx  the pointer given with the callback
 * @param path the key file or archive that needs it (for the prompt)
 * @param buf  where to write the NUL-terminated passphrase
 * @param size bytes available in @p buf
 * @return 0 when @p buf holds a passphrase, -1 when none is available.
 */
typedef int (*vmrp_passphrase_fn)(void *ctx, const char *path, char *buf, size_t size);

/** @return a new, empty key handle, or NULL when out of memory. */
VMRP_API vmrp_key *vmrp_key_new(void);

/** What a key is for. A key of one kind is refused where the other is
 *  needed. */
typedef enum {
    VMRP_KEY_SIGNING = 1,   /**< Ed25519, minisign's formats: signs commits and files */
    VMRP_KEY_ENCRYPTION = 2 /**< X25519: a recipient of encrypted archives */
} vmrp_key_type;

/** Make a new Ed25519 key pair in @p k. @return ::VMRP_OK or ::VMRP_E_NOMEM. */
VMRP_API int vmrp_key_generate(vmrp_key *k) VMRP_CHECK_RESULT;

/** Make a new X25519 key pair in @p k, for use as a recipient of encrypted
 *  archives (vmrp_encryption::recipients) and as an identity that opens
 *  them. @return ::VMRP_OK or ::VMRP_E_NOMEM. */
VMRP_API int vmrp_key_generate_encryption(vmrp_key *k) VMRP_CHECK_RESULT;

/** @return the ::vmrp_key_type of @p k, or 0 when it holds no key. */
VMRP_API int vmrp_key_kind(const vmrp_key *k);

/**
 * Write the secret key (mode 0600) and, when @p public_path is not NULL, the
 * public key (mode 0644). Existing files are never replaced.
 * @param k           a key with its secret half.
 * @param secret_path the secret key file.
 * @param public_path the public key file, or NULL.
 * @param passphrase  protects the secret key with scrypt as minisign does
 *                    (opslimit 2^25, memlimit 1 GiB); NULL writes it
 *                    unprotected.
 * @return ::VMRP_OK, ::VMRP_E_EXISTS, ::VMRP_E_IO, ::VMRP_E_NOMEM.
 */
VMRP_API int vmrp_key_save(vmrp_key *k, const char *secret_path, const char *public_path,
                           const char *passphrase) VMRP_CHECK_RESULT;

/**
 * Load a public key file: a signing key (minisign's format) or an
 * encryption key (vmrp_key_kind() tells which).
 * @return ::VMRP_OK, ::VMRP_E_NOT_FOUND, ::VMRP_E_KEY (not a public key
 *         file of either kind), ::VMRP_E_IO.
 */
VMRP_API int vmrp_key_load_public(vmrp_key *k, const char *path) VMRP_CHECK_RESULT;

/**
 * Load a secret key file. When it is protected, @p ask is called for the
 * passphrase; the key's checksum and embedded public key are checked.
 * @param k    the handle to fill.
 * @param path the secret key file.
 * @param ask  passphrase source, or NULL when none is available.
 * @param ctx  passed to @p ask.
 * @return ::VMRP_OK; ::VMRP_E_KEY for a missing or wrong passphrase or a
 *         damaged key; ::VMRP_E_NOT_FOUND; ::VMRP_E_IO.
 */
VMRP_API int vmrp_key_load_secret(vmrp_key *k, const char *path, vmrp_passphrase_fn ask,
                                  void *ctx) VMRP_CHECK_RESULT;

/** @return 1 when @p k holds a secret key. */
VMRP_API int vmrp_key_has_secret(const vmrp_key *k);

/** Format the key id as minisign prints it: 16 uppercase hex digits. */
VMRP_API void vmrp_key_id(const vmrp_key *k, char out[17]);

/**
 * Write a detached minisign signature (prehashed, "ED") of the whole file
 * open on @p fd to @p sig_path (replaced atomically). `minisign -V -p KEY
 * -m FILE` verifies it.
 * @param k               a key with its secret half.
 * @param fd              the file to sign, read with pread from offset 0.
 * @param sig_path        where the signature goes.
 * @param trusted_comment one line, signed too.
 */
VMRP_API int vmrp_key_sign_file(vmrp_key *k, int fd, const char *sig_path,
                                const char *trusted_comment) VMRP_CHECK_RESULT;

/** @return the message of the last error ("" if none). Never NULL. */
VMRP_API const char *vmrp_key_error_string(const vmrp_key *k);

/** Release the key, wiping its secret half. NULL is accepted. */
VMRP_API void vmrp_key_free(vmrp_key *k);
/**@}*/

/* ------------------------------------------------------------------------ */
/** @name Writer */
/**@{*/

/** Opaque writer handle. */
typedef struct vmrp_writer_s vmrp_writer;

/** Options for vmrp_writer_open(). Zero-initialise, then set what you need. */
typedef struct {
    /** Block size for a new collection: a power of two from 4096 to
     *  4194304; 0 means 65536. When appending it must be 0 or equal to the
     *  collection's block size. */
    uint32_t block_size;
    /** Maximum number of restore points of a new collection, 1..65535;
     *  0 means 200. Ignored when appending. */
    uint32_t max_points;
    /** Codec for the records this writer stores (::vmrp_codec; 0 = zstd). */
    int codec;
    /** Codec level; 0 means the codec's default. */
    int level;
    /** Threads that hash and compress blocks, the caller's included,
     *  1..256; 0 means one per online processor. The archive's bytes do not
     *  depend on it. */
    uint32_t threads;
    /** Upper bound, in MiB, of the table that finds blocks already stored
     *  (deduplication), 1..65536; 0 means 64. It takes 40 bytes per
     *  Block_Id, in the largest power-of-two number of slots that fits in
     *  the bound with the half-size table it replaces while it last doubles
     *  (at the default, 1,048,576 ids: 64 GiB of distinct data at 64 KiB
     *  blocks). When it is full, new ids replace old ones: later copies of
     *  a replaced block are stored again, which the format allows (5.1).
     *  Unchanged blocks of an incremental point are found from the previous
     *  point's map and never depend on it. */
    uint32_t dedup_memory_mib;
    /** Reserved for forward compatibility: must be zero. */
    uint32_t reserved[6];
} vmrp_writer_options;

/** Figures about the point a writer committed (or is writing). */
typedef struct {
    uint32_t sequence;       /**< sequence number of the new point (1 = first) */
    uint32_t point_count;    /**< points in the collection after the commit */
    uint64_t bytes_read;     /**< disk bytes read (holes are not read) */
    uint64_t changed_blocks; /**< map entries written, over all disks */
    uint64_t new_blocks;     /**< blocks stored for the first time */
    uint64_t dedup_blocks;   /**< changed blocks already stored elsewhere */
    uint64_t bytes_written;  /**< bytes appended to the archive */
    uint64_t dropped_tail;   /**< bytes of an interrupted append removed at open */
    int created;             /**< 1 when this writer created the archive */
    int keyless;             /**< 1 when it appended to an encrypted archive
                                  without its key: every disk stored in full */
} vmrp_writer_stats;

/**
 * Encryption of a writer's archive (vmrp_writer_set_encryption()).
 * A new archive is encrypted when a passphrase or a recipient is given:
 * each becomes a key slot that unlocks it; slots are fixed at creation.
 * An existing encrypted archive is unlocked with @ref identity or
 * @ref passphrase, and the new point is then incremental. With neither, the
 * writer appends without reading the archive: a full point, which only the
 * archive's key holders can read.
 */
typedef struct {
    /** NUL-terminated passphrase: a passphrase slot for a new archive
     *  (Argon2id), or the key of an existing one. NULL for none. */
    const char *passphrase;
    /** Encryption public keys (::VMRP_KEY_ENCRYPTION): one recipient slot
     *  each, for a new archive only. */
    const vmrp_key *const *recipients;
    /** Entries in @ref recipients. */
    size_t recipient_count;
    /** An encryption key with its secret half that opens an existing
     *  archive, or NULL. */
    const vmrp_key *identity;
    /** Argon2id passes for a new passphrase slot, 1..10; 0 means 2. */
    uint64_t kdf_opslimit;
    /** Argon2id memory in bytes, 8192..1 GiB, a multiple of 1024; 0 means
     *  64 MiB. */
    uint64_t kdf_memlimit;
} vmrp_encryption;

/** @return a new writer, or NULL when out of memory. */
VMRP_API vmrp_writer *vmrp_writer_new(void);

/**
 * Open @p path for writing one restore point. If it does not exist it is
 * created (the new point is the first, full point); if it exists, it is
 * locked exclusively (a second writer fails at once with ::VMRP_E_LOCKED)
 * and the new point is incremental against the latest one. An interrupted
 * append found at the end of the file is removed (see
 * vmrp_writer_stats::dropped_tail); committed bytes are never rewritten.
 * @param w    a new writer from vmrp_writer_new().
 * @param path the archive file.
 * @param opts may be NULL for defaults.
 * @return ::VMRP_OK; ::VMRP_E_LOCKED; ::VMRP_E_LIMIT when the collection
 *         already holds its maximum number of points; ::VMRP_E_USAGE for a
 *         bad option; ::VMRP_E_NOT_ARCHIVE, ::VMRP_E_CORRUPT,
 *         ::VMRP_E_VERSION for an existing file that cannot be appended to;
 *         ::VMRP_E_IO.
 */
VMRP_API int vmrp_writer_open(vmrp_writer *w, const char *path,
                              const vmrp_writer_options *opts) VMRP_CHECK_RESULT;

/**
 * Start a new archive on a sequential file descriptor (a pipe or stdout).
 * Nothing is ever seeked; @p fd is not closed by the library.
 * @param w     a new writer from vmrp_writer_new().
 * @param fd    where the archive goes.
 * @param label name used in messages (for example "stdout").
 * @param opts  may be NULL for defaults.
 * @return ::VMRP_OK, ::VMRP_E_USAGE, ::VMRP_E_IO.
 */
VMRP_API int vmrp_writer_open_stream(vmrp_writer *w, int fd, const char *label,
                                     const vmrp_writer_options *opts) VMRP_CHECK_RESULT;

/**
 * Name the new point and set its consistency mode.
 * @param w    an open writer.
 * @param name 1..255 bytes, unique in the collection, not all digits and not
 *             "latest" (those select points by number); NULL for the default
 *             "point-N".
 * @param consistency a ::vmrp_consistency value, or 0 for crash-consistent.
 * @return ::VMRP_OK, ::VMRP_E_USAGE, ::VMRP_E_EXISTS (name taken).
 */
VMRP_API int vmrp_writer_set_point(vmrp_writer *w, const char *name,
                                   int consistency) VMRP_CHECK_RESULT;

/**
 * Set the VM configuration (the point's sourceMetadata): a JSON object of at
 * most 16 MiB. It is checked to be valid JSON (RFC 8259). A point appended
 * without it keeps the latest point's VM configuration ("{}" for a first
 * point).
 * @return ::VMRP_E_INPUT when it is not a JSON object.
 */
VMRP_API int vmrp_writer_set_source_metadata(vmrp_writer *w, const char *json,
                                             size_t size) VMRP_CHECK_RESULT;

/**
 * Add a configuration file (libvirt XML, NVRAM, TPM state, ...) to the point.
 * @param w    an open writer.
 * @param name relative path with '/' separators: no empty, "." or ".."
 *             component, at most 4096 bytes, unique within the point.
 * @param mode permission bits (at most 07777).
 * @param data the content (may be NULL when @p size is 0).
 * @param size at most 64 MiB.
 *
 * Identical content is stored once per collection. A point appended without
 * any call to this function keeps the latest point's configuration files
 * (referenced, not stored again).
 * @return ::VMRP_OK, ::VMRP_E_INPUT, ::VMRP_E_EXISTS, ::VMRP_E_LIMIT, ::VMRP_E_IO.
 */
VMRP_API int vmrp_writer_add_config_file(vmrp_writer *w, const char *name, uint32_t mode,
                                         const void *data, size_t size) VMRP_CHECK_RESULT;

/**
 * Read a whole disk from @p fd (a regular file or a block device) and store
 * the blocks that differ from this disk's latest point. Holes reported by
 * SEEK_DATA/SEEK_HOLE are not read; all-zero blocks are never stored;
 * blocks already stored anywhere in the collection are referenced, not
 * stored again.
 * @param w    an open writer.
 * @param name disk name: 1..64 bytes of [A-Za-z0-9._-], not starting with
 *             '.', unique within the point.
 * @param fd   open for reading; not closed by the library.
 * @param label file name used in messages.
 * @return ::VMRP_OK; ::VMRP_E_INPUT if the disk changes size while it is
 *         read or the name is invalid; ::VMRP_E_IO.
 */
VMRP_API int vmrp_writer_add_disk(vmrp_writer *w, const char *name, int fd,
                                  const char *label) VMRP_CHECK_RESULT;

/**
 * As vmrp_writer_add_disk(), but read only the byte ranges @p changed (as
 * produced from a hypervisor's dirty bitmap or `nbdinfo --map`): blocks
 * outside them are taken as unchanged since the disk's latest point,
 * without being read. The ranges are trusted input: a change outside them
 * is not seen, and the new point then restores the old data there. Blocks
 * beyond the latest point's size are always read; for a disk with no
 * earlier point the whole disk is read. Ranges may be unsorted and overlap.
 * @param w        an open writer.
 * @param name     disk name, as for vmrp_writer_add_disk().
 * @param fd       the disk, open for reading.
 * @param label    file name used in messages.
 * @param changed  byte ranges that may have changed (NULL: read everything).
 * @param nchanged entries in @p changed.
 */
VMRP_API int vmrp_writer_add_disk_ranges(vmrp_writer *w, const char *name, int fd,
                                         const char *label, const vmrp_extent *changed,
                                         size_t nchanged) VMRP_CHECK_RESULT;

/**
 * Record @p name as an excluded disk of the new point: listed, nothing
 * stored. Its family and size are carried over from its latest point when
 * the collection knows it.
 */
VMRP_API int vmrp_writer_exclude_disk(vmrp_writer *w, const char *name) VMRP_CHECK_RESULT;

/**
 * Write the point's metadata, index and commit, and flush it to stable
 * storage (fsync before and after the commit record). When this returns
 * ::VMRP_OK the point is visible to every reader.
 */
VMRP_API int vmrp_writer_commit(vmrp_writer *w) VMRP_CHECK_RESULT;

/**
 * Sign the commit of the new point with @p key (which must hold a secret
 * key and outlive the writer). The signature covers the Commit_Hash, which
 * covers every byte of the archive up to the commit. The signature is
 * checked against the public key before it is written.
 * @return ::VMRP_OK, or ::VMRP_E_USAGE when @p key has no secret half.
 */
VMRP_API int vmrp_writer_set_signing_key(vmrp_writer *w, const vmrp_key *key) VMRP_CHECK_RESULT;

/**
 * Append only to an archive whose every commit is signed by @p key (a
 * signing public key); a new archive is created as usual. Call before
 * vmrp_writer_open(), which then fails with ::VMRP_E_CORRUPT, naming the
 * commit, when the chain is not signed by it. A writer without the key of an
 * encrypted archive seals its point to the collection key it finds in the
 * archive: this is how it knows that key is the one its owners hold.
 */
VMRP_API void vmrp_writer_set_public_key(vmrp_writer *w, const vmrp_key *key);

/**
 * Pin the collection key of the encrypted archive this writer appends to
 * without its secret (vmrp_reader_collection_key() of a copy you trust
 * prints it). A keyless append seals its point to the collection key it
 * finds in the file; nothing in an unsigned file vouches for that key, so a
 * keyless vmrp_writer_open() fails with ::VMRP_E_KEY unless the key is
 * pinned here or the chain is signed by the key of
 * vmrp_writer_set_public_key(), and with ::VMRP_E_CORRUPT when the file
 * names another collection key than the one pinned. Call before
 * vmrp_writer_open().
 */
VMRP_API void vmrp_writer_set_collection_key(vmrp_writer *w, const unsigned char key[32]);

/**
 * Encrypt a new archive, or give the key of an existing encrypted one.
 * Call before vmrp_writer_open(); @p e and what it points to must stay
 * valid until then (the passphrase is copied into secure memory).
 * @return ::VMRP_OK, ::VMRP_E_USAGE (a recipient that is not an encryption
 *         public key, an identity without its secret, bounds), ::VMRP_E_NOMEM.
 *         vmrp_writer_open() then fails with ::VMRP_E_USAGE when recipients
 *         or a passphrase are given for an existing archive that is not
 *         encrypted, or recipients for one that is, and with ::VMRP_E_KEY
 *         when the key given does not open it.
 */
VMRP_API int vmrp_writer_set_encryption(vmrp_writer *w, const vmrp_encryption *e)
    VMRP_CHECK_RESULT;

/**
 * Remove an interrupted append from the end of @p path: the bytes after the
 * last valid commit, when they are the prefix of a segment that never got
 * its commit. Committed bytes are never touched: when the bytes after the
 * last valid commit look like damage to a commit (see
 * vmrp_collection_info::tail_damaged) nothing is removed and
 * ::VMRP_E_CORRUPT is returned. Takes the writer lock for the duration.
 * @param w       a new writer from vmrp_writer_new() (used for the lock and
 *                the error message; free it afterwards).
 * @param path    the archive.
 * @param[out] dropped bytes removed (0 when the archive was clean).
 * @return ::VMRP_OK, ::VMRP_E_CORRUPT, ::VMRP_E_LOCKED, ::VMRP_E_NOT_ARCHIVE,
 *         ::VMRP_E_IO.
 */
VMRP_API int vmrp_writer_repair(vmrp_writer *w, const char *path, uint64_t *dropped)
    VMRP_CHECK_RESULT;

/** Figures about the point being written; valid after vmrp_writer_open(). */
VMRP_API void vmrp_writer_get_stats(const vmrp_writer *w, vmrp_writer_stats *out);

/** Report progress to @p fn while disks are read (NULL to stop). */
VMRP_API void vmrp_writer_set_progress(vmrp_writer *w, vmrp_progress_fn fn, void *ctx);

/** Expected total bytes for progress reports (the tool sums disk sizes). */
VMRP_API void vmrp_writer_set_progress_total(vmrp_writer *w, uint64_t total);

/** @return the message of the last error ("" if none). Never NULL. */
VMRP_API const char *vmrp_writer_error_string(const vmrp_writer *w);
/** @return the code of the last error, 0 if none. */
VMRP_API int vmrp_writer_error(const vmrp_writer *w);

/**
 * Release the writer. If it was opened and did not commit, everything it
 * appended is truncated away (a new archive is removed) and the lock is
 * released. NULL is accepted.
 */
VMRP_API void vmrp_writer_free(vmrp_writer *w);
/**@}*/

/* ------------------------------------------------------------------------ */
/** @name Reader */
/**@{*/

/** Opaque reader handle. */
typedef struct vmrp_reader_s vmrp_reader;

/** One disk of a restore point. */
typedef struct {
    const char *name;            /**< disk name */
    unsigned char family_id[16]; /**< the same for every point of this disk */
    uint64_t size_bytes;         /**< virtual size in bytes */
    uint32_t sector_size;        /**< logical sector size in bytes */
    int excluded;                /**< 1 when excluded: nothing stored */
    int full;                    /**< 1 when the map holds every block (encrypted
                                      archives: written without the key) */
    uint64_t changed_blocks;     /**< map entries of this point (blocks changed) */
    uint64_t stored_bytes;       /**< bytes of block records first stored here */
} vmrp_disk_info;

/** One configuration file of a restore point. */
typedef struct {
    const char *name; /**< relative path */
    uint32_t mode;    /**< permission bits */
    uint64_t size;    /**< size in bytes */
} vmrp_config_file_info;

/** One restore point. */
typedef struct {
    const char *name;             /**< point name */
    unsigned char id[16];         /**< point id (UUID) */
    uint32_t sequence;            /**< 1 = first */
    uint32_t parent_sequence;     /**< 0 for the first point */
    int64_t time_created_us;      /**< microseconds since 1970-01-01 UTC */
    int consistency;              /**< ::vmrp_consistency */
    const char *source_metadata;  /**< VM configuration JSON ("{}" if none) */
    size_t source_metadata_size;  /**< its length in bytes */
    uint32_t disk_count;          /**< entries in @ref disks */
    const vmrp_disk_info *disks;  /**< included and excluded disks */
    uint32_t config_file_count;   /**< entries in @ref config_files */
    const vmrp_config_file_info *config_files; /**< configuration files */
    uint64_t commit_offset;       /**< byte offset of the point's commit record */
    unsigned char commit_hash[32]; /**< Commit_Hash of that commit */
} vmrp_point_info;

/** The collection as a whole. */
typedef struct {
    uint16_t format_major;          /**< format version of the archive */
    uint16_t format_minor;          /**< format minor version of the archive */
    unsigned char collection_id[16]; /**< restore point collection id (UUID) */
    uint32_t block_size;            /**< bytes per block */
    uint32_t max_points;            /**< the collection's point limit */
    int64_t time_created_us;        /**< creation time */
    uint32_t point_count;           /**< committed points */
    uint64_t file_size;             /**< bytes in the file */
    uint64_t committed_size;        /**< bytes up to the end of the last commit */
    int tail_damaged;               /**< 1 when the bytes after committed_size are
                                         not an interrupted append but damage to
                                         committed data (a writer refuses to append) */
    unsigned char head_hash[32];    /**< Commit_Hash of the last commit */
    int encrypted;                  /**< 1 when the collection is encrypted */
    uint32_t key_slot_count;        /**< its key slots (vmrp_reader_key_slot()) */
} vmrp_collection_info;

/** Kinds of key slot of an encrypted collection. */
typedef enum {
    VMRP_SLOT_PASSPHRASE = 1, /**< unlocked by a passphrase (Argon2id) */
    VMRP_SLOT_RECIPIENT = 2   /**< unlocked by an encryption secret key */
} vmrp_slot_type;

/** One key slot of an encrypted collection. */
typedef struct {
    int type;                 /**< ::vmrp_slot_type */
    uint64_t kdf_opslimit;    /**< passphrase slots: Argon2id passes */
    uint64_t kdf_memlimit;    /**< passphrase slots: Argon2id memory in bytes */
    unsigned char key_id[8];  /**< recipient slots: the recipient's key id */
} vmrp_key_slot_info;

/** @return a new reader, or NULL when out of memory. */
VMRP_API vmrp_reader *vmrp_reader_new(void);

/**
 * Open an archive for random access and load the metadata of every point.
 * The latest commit is found from the trailer at the end of the file; if
 * the file ends with an interrupted append, the last complete commit is
 * found by scanning and the tail is ignored (see
 * vmrp_collection_info::committed_size).
 * @return ::VMRP_OK, ::VMRP_E_NOT_ARCHIVE, ::VMRP_E_VERSION,
 *         ::VMRP_E_CORRUPT, ::VMRP_E_IO.
 */
VMRP_API int vmrp_reader_open(vmrp_reader *r, const char *path) VMRP_CHECK_RESULT;

/** As vmrp_reader_open() on a seekable descriptor, which the reader
 *  does not close. @p label names it in messages. */
VMRP_API int vmrp_reader_open_fd(vmrp_reader *r, int fd, const char *label) VMRP_CHECK_RESULT;

/** @return the collection description; valid after a successful open. */
VMRP_API const vmrp_collection_info *vmrp_reader_collection(const vmrp_reader *r);

/** @return the number of committed points. */
VMRP_API uint32_t vmrp_reader_point_count(const vmrp_reader *r);

/** @return point @p index (0-based, in sequence order), or NULL. */
VMRP_API const vmrp_point_info *vmrp_reader_point(const vmrp_reader *r, uint32_t index);

/**
 * Find a point by name, by sequence number ("1" is the first) or "latest".
 * @param r    an open reader.
 * @param spec the name, number or "latest".
 * @param[out] index 0-based index for vmrp_reader_point().
 * @return ::VMRP_OK or ::VMRP_E_NOT_FOUND (with a message naming @p spec).
 */
VMRP_API int vmrp_reader_find_point(vmrp_reader *r, const char *spec,
                                    uint32_t *index) VMRP_CHECK_RESULT;

/**
 * Receives the data of a disk, in increasing offset order: one call per
 * run of consecutive blocks that are not all zero (a run may span many
 * blocks); data at the end of the disk is cut at the disk size. Called on
 * the thread that called vmrp_reader_read_disk(), while its workers decode
 * the next blocks. Return 0 to go on, or a negative ::vmrp_error to stop
 * (it is passed back to the caller).
 */
typedef int (*vmrp_block_sink)(void *ctx, uint64_t offset, const void *data, size_t size);

/**
 * Resolve disk @p disk_name at point @p index along its chain of deltas and
 * pass every non-zero block to @p sink. Each record is checked against the
 * hash in the signed index before its data is released. Memory grows with
 * the number of blocks the chain changed, not with the disk size.
 * @return ::VMRP_OK, ::VMRP_E_NOT_FOUND (no such disk, or excluded),
 *         ::VMRP_E_CORRUPT, ::VMRP_E_IO, or the sink's error.
 */
VMRP_API int vmrp_reader_read_disk(vmrp_reader *r, uint32_t index, const char *disk_name,
                                   vmrp_block_sink sink, void *ctx) VMRP_CHECK_RESULT;

/** Flags for vmrp_reader_restore_disk(). */
#define VMRP_RESTORE_SPARSE 0x1u /**< @p fd is a regular file: set its size and
                                      leave zero blocks as holes */

/**
 * Write disk @p disk_name at point @p index to @p fd. With
 * ::VMRP_RESTORE_SPARSE the file is truncated to the disk size and only
 * non-zero blocks are written (pwrite); without it every byte, zeros
 * included, is written sequentially (stdout, pipes, block devices).
 */
VMRP_API int vmrp_reader_restore_disk(vmrp_reader *r, uint32_t index, const char *disk_name,
                                      int fd, unsigned flags) VMRP_CHECK_RESULT;


/**
 * List the data extents (runs of non-zero blocks, cut at the disk size) of
 * disk @p disk_name at point @p index, for writers of sparse formats.
 * @param r         an open reader.
 * @param index     0-based point index.
 * @param disk_name the disk.
 * @param[out] extents malloc'd array the caller frees with free().
 * @param[out] count   number of extents.
 * @return ::VMRP_OK, ::VMRP_E_NOT_FOUND, ::VMRP_E_CORRUPT, ::VMRP_E_IO.
 */
VMRP_API int vmrp_reader_disk_extents(vmrp_reader *r, uint32_t index, const char *disk_name,
                                      vmrp_extent **extents, size_t *count) VMRP_CHECK_RESULT;

/**
 * Read configuration file @p file_index of point @p index. The content is
 * checked against its Content_Hash before it is returned.
 * @param r          an open reader.
 * @param index      0-based point index.
 * @param file_index index into vmrp_point_info::config_files.
 * @param[out] data  malloc'd buffer (the caller frees it), NULL when empty.
 * @param[out] size  its size in bytes.
 * @return ::VMRP_OK, ::VMRP_E_NOT_FOUND, ::VMRP_E_CORRUPT, ::VMRP_E_IO.
 */
VMRP_API int vmrp_reader_read_config_file(vmrp_reader *r, uint32_t index, uint32_t file_index,
                                          void **data, size_t *size) VMRP_CHECK_RESULT;

/**
 * Require every commit to be signed by @p key: vmrp_reader_open() and
 * vmrp_reader_verify() then fail with ::VMRP_E_CORRUPT on an unsigned commit,
 * one signed by another key, or a signature that does not verify. Call it
 * before opening; @p key must outlive the reader. NULL removes the
 * requirement.
 */
VMRP_API void vmrp_reader_set_public_key(vmrp_reader *r, const vmrp_key *key);

/**
 * How to open an encrypted archive: with @p identity (an encryption key
 * with its secret half), or with a passphrase that @p ask supplies when
 * the archive has a passphrase slot and the identity did not open it. Set
 * before opening. Open then fails with ::VMRP_E_KEY, naming the key slots,
 * when neither opens the archive; an unencrypted archive ignores both.
 */
VMRP_API void vmrp_reader_set_decryption(vmrp_reader *r, const vmrp_key *identity,
                                         vmrp_passphrase_fn ask, void *ctx);

/**
 * Read only the file header of @p path: whether it is an archive, its
 * version, and whether it is encrypted (collection id, block size, Max_Points
 * and creation time are filled in; nothing else is read or checked).
 * @return ::VMRP_OK, ::VMRP_E_NOT_FOUND, ::VMRP_E_NOT_ARCHIVE,
 *         ::VMRP_E_VERSION, ::VMRP_E_CORRUPT, ::VMRP_E_IO (with errno set to
 *         the cause: the file exists but cannot be opened or read, which
 *         says nothing about whether it is an archive).
 */
VMRP_API int vmrp_probe(const char *path, vmrp_collection_info *info) VMRP_CHECK_RESULT;

/** Describe key slot @p i (0..key_slot_count-1) of an open encrypted
 *  archive. @return ::VMRP_OK or ::VMRP_E_NOT_FOUND. */
VMRP_API int vmrp_reader_key_slot(const vmrp_reader *r, uint32_t i,
                                  vmrp_key_slot_info *out) VMRP_CHECK_RESULT;

/** The Collection_Public_Key of an open encrypted archive (X25519, the key
 *  every segment's keys are sealed to), to pin with
 *  vmrp_writer_set_collection_key(). @return ::VMRP_OK, or
 *  ::VMRP_E_NOT_FOUND for an unencrypted archive. */
VMRP_API int vmrp_reader_collection_key(const vmrp_reader *r,
                                        unsigned char out[32]) VMRP_CHECK_RESULT;

/** Report progress of read_disk / restore_disk / verify to @p fn. */
VMRP_API void vmrp_reader_set_progress(vmrp_reader *r, vmrp_progress_fn fn, void *ctx);

/** Flags for vmrp_reader_set_verify_flags(). */
enum {
    /** Check every record against its hash in the index (and so against the
     *  commits and signatures) without decrypting or decompressing blocks:
     *  proves the archive holds exactly the bytes its writer committed, not
     *  that each block decodes to its Block_Id. Several times faster. */
    VMRP_VERIFY_QUICK = 1u
};

/** Set how thoroughly vmrp_reader_verify() checks: 0 (the default, every
 *  block decoded and checked against its Block_Id) or ::VMRP_VERIFY_QUICK. */
VMRP_API void vmrp_reader_set_verify_flags(vmrp_reader *r, unsigned flags);

/** What vmrp_reader_verify() checked. */
typedef struct {
    uint32_t points;           /**< committed points found */
    uint64_t records;          /**< records checked */
    uint64_t blocks;           /**< distinct block records decoded and checked */
    uint64_t bytes;            /**< archive bytes read */
    uint64_t committed_size;   /**< end of the last valid commit */
    uint64_t torn_bytes;       /**< bytes after the last commit (0 if none) */
    uint64_t error_offset;     /**< byte offset of the first problem */
    uint32_t error_point;      /**< sequence of the point at fault (0 if none) */
    uint32_t signed_points;    /**< commits that carry a signature */
    unsigned char signer_key_id[8]; /**< key id of the last signed commit */
    int several_signers;       /**< 1 when signed commits carry different key ids */
    int signatures_checked;    /**< 1 when a public key was set and every
                                    commit's signature verified with it */
    int encrypted;             /**< 1 when the collection is encrypted */
    int content_checked;       /**< 0 when blocks were not decoded (encrypted
                                    and no key opened it, or
                                    ::VMRP_VERIFY_QUICK): record hashes,
                                    structure and signatures were checked,
                                    block contents were not */
    uint32_t key_slots;        /**< key slots of an encrypted collection */
    unsigned char head_hash[32]; /**< Commit_Hash of the last valid commit */
    int append_in_progress;    /**< 1 when the bytes after the last commit
                                    (torn_bytes) belong to an append that
                                    another writer is making now: everything
                                    committed verified, and the result is
                                    ::VMRP_OK (::VMRP_E_LOCKED while no point
                                    is committed yet) */
} vmrp_verify_report;

/**
 * Verify an archive read sequentially from @p fd (a file or a pipe; the
 * reader @p r is used only for its error message and progress callback and
 * need not be open). Checks the header, that records tile the file, every
 * record hash against its index, every index against its commit, the commit
 * hash chain, every point's metadata and map, and that every block
 * decompresses to its identity (not with ::VMRP_VERIFY_QUICK). Bytes after
 * the last commit are reported as ::VMRP_E_TORN, unless a writer holds the
 * archive's lock (an append in progress, see
 * vmrp_verify_report::append_in_progress).
 * @return ::VMRP_OK when everything holds; ::VMRP_E_CORRUPT,
 *         ::VMRP_E_NOT_ARCHIVE, ::VMRP_E_VERSION or ::VMRP_E_TORN with a
 *         message and report->error_offset; ::VMRP_E_LOCKED while another
 *         writer creates the archive; ::VMRP_E_IO.
 */
VMRP_API int vmrp_reader_verify(vmrp_reader *r, int fd, const char *label,
                                vmrp_verify_report *report) VMRP_CHECK_RESULT;

/** @return the message of the last error ("" if none). Never NULL. */
VMRP_API const char *vmrp_reader_error_string(const vmrp_reader *r);
/** @return the code of the last error, 0 if none. */
VMRP_API int vmrp_reader_error(const vmrp_reader *r);

/** Release the reader (closes a file it opened). NULL is accepted. */
VMRP_API void vmrp_reader_free(vmrp_reader *r);
/**@}*/

/* ------------------------------------------------------------------------ */
/** @name Helpers shared with the tools */
/**@{*/

/**
 * Check that @p text[0..size) is one valid JSON value (RFC 8259) and, when
 * @p want_object is 1, that it is an object.
 * @return ::VMRP_OK or ::VMRP_E_INPUT; when @p err_offset is not NULL it
 *         receives the byte offset of the first error.
 */
VMRP_API int vmrp_json_validate(const char *text, size_t size, int want_object,
                                size_t *err_offset) VMRP_CHECK_RESULT;

/**
 * Format a 16-byte id as a lowercase UUID string (36 characters + NUL).
 */
VMRP_API void vmrp_uuid_format(const unsigned char id[16], char out[37]);

/**
 * Format microseconds since the epoch as ISO 8601 UTC,
 * "YYYY-MM-DDThh:mm:ss.uuuuuuZ" (27 characters + NUL).
 */
VMRP_API void vmrp_time_format(int64_t time_us, char out[32]);

/** Check a disk name against the rules of vmrp_writer_add_disk(). */
VMRP_API int vmrp_disk_name_valid(const char *name);

/** Check a configuration file name against the rules of
 *  vmrp_writer_add_config_file(). */
VMRP_API int vmrp_config_name_valid(const char *name);
/**@}*/

#ifdef __cplusplus
}
#endif
#endif /* VMRP_H */
