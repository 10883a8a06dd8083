/* cmd_inspect.c - vmrp inspect: the points of an archive, as text or JSON.
 * Names come from the archive: the text escapes what could change how a
 * terminal shows them (cli_fputs_safe), the JSON escapes them as JSON. */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

const char inspect_usage[] =
    "usage: vmrp inspect ARCHIVE [POINT] [--json] [--pubkey PUBLIC_KEY]\n"
    "                    [--identity SECRET_KEY]\n\n"
    "Lists the restore point collection and its points: disks with sizes, changed\n"
    "blocks and stored bytes, excluded disks, and config files. POINT (a name, a\n"
    "sequence number or 'latest') limits the listing to one point.\n\n"
    "ARCHIVE must be a regular file or a block device (it is read by random\n"
    "access); anything else is refused (exit 3).\n\n"
    "  --json    one JSON object: formatVersion, restorePointCollectionId,\n"
    "            blockSize, maxPoints, timeCreated, restorePoints[...] (each with\n"
    "            its commitHash); an error as {\"ok\":false,\"error\":{...}}\n"
    "  --pubkey    refuse the archive unless every commit is signed by this key\n"
    "  --identity  open an encrypted archive with this encryption secret key;\n"
    "              else a passphrase is taken from VMRP_PASSPHRASE, _FILE,\n"
    "              _COMMAND or a prompt (exit 4 when no key opens it)\n";

static void print_slots_json(const vmrp_reader *r, const vmrp_collection_info *ci)
{
    if (!ci->encrypted) {
        printf("null");
        return;
    }
    unsigned char ck[32];
    printf("{\"cipher\":\"XChaCha20-Poly1305\",\"collectionKey\":");
    if (vmrp_reader_collection_key(r, ck) == VMRP_OK)
        json_hex(stdout, ck, sizeof ck);
    else
        printf("null");
    printf(",\"keySlots\":[");
    for (uint32_t i = 0; i < ci->key_slot_count; i++) {
        vmrp_key_slot_info s;
        if (vmrp_reader_key_slot(r, i, &s) != VMRP_OK)
            break;
        if (s.type == VMRP_SLOT_PASSPHRASE)
            printf("%s{\"type\":\"passphrase\",\"kdf\":\"argon2id\",\"opslimit\":%llu,"
                   "\"memlimitBytes\":%llu}",
                   i ? "," : "", (unsigned long long)s.kdf_opslimit,
                   (unsigned long long)s.kdf_memlimit);
        else
            printf("%s{\"type\":\"recipient\",\"keyId\":\"%016llX\"}", i ? "," : "",
                   (unsigned long long)cli_key_id_value(s.key_id));
    }
    printf("]}");
}

static void print_slots_text(const vmrp_reader *r, const vmrp_collection_info *ci)
{
    if (!ci->encrypted)
        return;
    printf("encryption:  XChaCha20-Poly1305, %u key slot%s\n", ci->key_slot_count,
           ci->key_slot_count == 1 ? "" : "s");
    unsigned char ck[32];
    if (vmrp_reader_collection_key(r, ck) == VMRP_OK) {
        printf("  collection key: ");
        for (size_t i = 0; i < sizeof ck; i++)
            printf("%02x", ck[i]);
        printf("\n");
    }
    for (uint32_t i = 0; i < ci->key_slot_count; i++) {
        vmrp_key_slot_info s;
        if (vmrp_reader_key_slot(r, i, &s) != VMRP_OK)
            break;
        if (s.type == VMRP_SLOT_PASSPHRASE)
            printf("  key slot %u: passphrase, Argon2id, %llu pass%s, %llu KiB\n", i + 1,
                   (unsigned long long)s.kdf_opslimit, s.kdf_opslimit == 1 ? "" : "es",
                   (unsigned long long)(s.kdf_memlimit >> 10));
        else
            printf("  key slot %u: recipient %016llX\n", i + 1,
                   (unsigned long long)cli_key_id_value(s.key_id));
    }
}

static void print_point_json(const vmrp_reader *r, const vmrp_point_info *p)
{
    printf("{\"name\":");
    json_string(stdout, p->name);
    printf(",\"id\":");
    json_uuid(stdout, p->id);
    printf(",\"sequence\":%u,\"timeCreated\":", p->sequence);
    json_time(stdout, p->time_created_us);
    printf(",\"consistencyMode\":\"%s\",\"parent\":", vmrp_consistency_name(p->consistency));
    if (p->parent_sequence)
        json_string(stdout, vmrp_reader_point(r, p->parent_sequence - 1)->name);
    else
        printf("null");
    printf(",\"excludeDisks\":");
    json_excluded_disks(stdout, p);
    printf(",\"sourceMetadata\":%s,\"configFiles\":[", p->source_metadata);
    for (uint32_t f = 0; f < p->config_file_count; f++) {
        printf(f ? ",{\"name\":" : "{\"name\":");
        json_string(stdout, p->config_files[f].name);
        printf(",\"mode\":\"%04o\",\"size\":%llu}", p->config_files[f].mode,
               (unsigned long long)p->config_files[f].size);
    }
    printf("],\"diskRestorePoints\":[");
    int first = 1;
    for (uint32_t d = 0; d < p->disk_count; d++) {
        const vmrp_disk_info *di = &p->disks[d];
        if (di->excluded)
            continue;
        printf(first ? "{\"diskName\":" : ",{\"diskName\":");
        first = 0;
        json_string(stdout, di->name);
        printf(",\"familyId\":");
        json_uuid(stdout, di->family_id);
        printf(",\"diskSizeBytes\":%llu,\"logicalSectorSize\":%u,\"changedBlocks\":%llu,"
               "\"storedBytes\":%llu,\"full\":%s}",
               (unsigned long long)di->size_bytes, di->sector_size,
               (unsigned long long)di->changed_blocks, (unsigned long long)di->stored_bytes,
               di->full || p->parent_sequence == 0 ? "true" : "false");
    }
    printf("],\"commitHash\":");
    json_hex(stdout, p->commit_hash, 32);
    printf("}");
}

static void print_point_text(const vmrp_reader *r, const vmrp_point_info *p, uint32_t bs)
{
    char t[32], id[37], h1[32], h2[32], hash[65], name[1024];
    vmrp_time_format(p->time_created_us, t);
    vmrp_uuid_format(p->id, id);
    for (int i = 0; i < 32; i++)
        snprintf(hash + 2 * i, 3, "%02x", p->commit_hash[i]);
    printf("\npoint %u: ", p->sequence);
    cli_fputs_safe(stdout, p->name);
    printf("\n  id:           %s\n  created:      %s\n  consistency:  %s\n", id, t,
           vmrp_consistency_name(p->consistency));
    printf("  parent:       ");
    if (p->parent_sequence)
        cli_fputs_safe(stdout, vmrp_reader_point(r, p->parent_sequence - 1)->name);
    else
        printf("(none: full)");
    printf("\n  commit:       %s\n", hash);
    printf("  VM config:    %zu bytes of JSON\n", p->source_metadata_size);
    for (uint32_t d = 0; d < p->disk_count; d++) {
        const vmrp_disk_info *di = &p->disks[d];
        vmrp_uuid_format(di->family_id, id);
        cli_safe(di->name, name, sizeof name);
        if (di->excluded) {
            printf("  disk %-12s excluded\n", name);
            continue;
        }
        printf("  disk %-12s %s (%llu bytes, sector %u), changed blocks %llu (%s), stored %s, family %s%s\n",
               name, cli_human(di->size_bytes, h1), (unsigned long long)di->size_bytes,
               di->sector_size, (unsigned long long)di->changed_blocks,
               cli_human(di->changed_blocks * bs, h2), cli_human(di->stored_bytes, t), id,
               di->full ? ", full" : "");
    }
    for (uint32_t f = 0; f < p->config_file_count; f++) {
        printf("  config file  ");
        cli_fputs_safe(stdout, p->config_files[f].name);
        printf(" (%llu bytes, mode %04o)\n", (unsigned long long)p->config_files[f].size,
               p->config_files[f].mode);
    }
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'},
        {"pubkey", required_argument, 0, 'p'}, {"identity", required_argument, 0, 'i'},
        {0, 0, 0, 0}};
    int json = 0, c;
    const char *pubkey = NULL, *identity_path = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'p')
            pubkey = optarg;
        else if (c == 'i')
            identity_path = optarg;
        else if (c == 'h') {
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        } else
            return cli_usage_error("inspect", "unknown option");
    }
    if (optind >= argc || argc - optind > 2)
        return cli_usage_error("inspect", optind >= argc ? "ARCHIVE is missing" : "too many arguments");
    const char *archive = argv[optind];
    const char *spec = argc - optind == 2 ? argv[optind + 1] : NULL;
    vmrp_key *key, *identity;
    vmrp_reader *r;
    int status = cli_reader_new("inspect", pubkey, identity_path, 1, &r, &key, &identity);
    if (status != EXIT_OK)
        return status;
    int fd;
    status = cli_open_archive("inspect", r, archive, &fd);
    uint32_t only = 0;
    int rc = status == EXIT_OK && spec ? vmrp_reader_find_point(r, spec, &only) : VMRP_OK;
    if (rc != VMRP_OK) {
        cli_error("inspect", "%s", vmrp_reader_error_string(r));
        status = cli_exit_code(rc);
    }
    if (status != EXIT_OK) {
        vmrp_reader_free(r);
        vmrp_key_free(key);
        vmrp_key_free(identity);
        if (fd >= 0)
            close(fd);
        return status;
    }
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    uint32_t n = vmrp_reader_point_count(r);
    uint32_t from = spec ? only : 0, to = spec ? only + 1 : n;
    if (json) {
        printf("{\"formatVersion\":\"%u.%u\",\"restorePointCollectionId\":", ci->format_major,
               ci->format_minor);
        json_uuid(stdout, ci->collection_id);
        printf(",\"blockSize\":%u,\"maxPoints\":%u,\"timeCreated\":", ci->block_size, ci->max_points);
        json_time(stdout, ci->time_created_us);
        printf(",\"pointCount\":%u,\"headHash\":", n);
        json_hex(stdout, ci->head_hash, 32);
        printf(",\"uncommittedTailBytes\":%llu,\"tailDamaged\":%s,\"encryption\":",
               (unsigned long long)(ci->file_size - ci->committed_size),
               ci->tail_damaged ? "true" : "false");
        print_slots_json(r, ci);
        printf(",\"restorePoints\":[");
        for (uint32_t i = from; i < to; i++) {
            if (i > from)
                putchar(',');
            print_point_json(r, vmrp_reader_point(r, i));
        }
        printf("]}\n");
    } else {
        char id[37], t[32];
        vmrp_uuid_format(ci->collection_id, id);
        vmrp_time_format(ci->time_created_us, t);
        printf("archive:     ");
        cli_fputs_safe(stdout, archive);
        printf("\nformat:      %u.%u\ncollection:  %s\ncreated:     %s\n"
               "block size:  %u\npoints:      %u of at most %u\n",
               ci->format_major, ci->format_minor, id, t, ci->block_size, n, ci->max_points);
        print_slots_text(r, ci);
        if (ci->file_size > ci->committed_size)
            printf("warning:     %llu bytes after the last valid commit (%s)\n",
                   (unsigned long long)(ci->file_size - ci->committed_size),
                   ci->tail_damaged ? "damage: run vmrp verify" : "an interrupted append");
        for (uint32_t i = from; i < to; i++)
            print_point_text(r, vmrp_reader_point(r, i), ci->block_size);
    }
    vmrp_reader_free(r);
    vmrp_key_free(key);
    vmrp_key_free(identity);
    close(fd);
    return EXIT_OK;
}
