/* familytab.c - the rule that ties disk names to Family_Ids across a
 * collection (spec 5.4.2): a Family_Id has one name, and a name keeps the
 * family of its newest earlier entry, except where a disk may start a new
 * family. The reader and the verifier both check it, through this table,
 * in time proportional to the disks of the collection. */
#include <stdlib.h>
#include <string.h>

#include "vmrp_private.h"

struct familytab_s {
    family_entry *entries;
    size_t count, cap;
    hashidx *by_family; /* Family_Id -> its entry */
    hashidx *by_name;   /* name -> the entry of the family it has now */
};

familytab *familytab_new(void)
{
    familytab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->by_family = hashidx_new();
    t->by_name = hashidx_new();
    if (!t->by_family || !t->by_name) {
        familytab_free(t);
        return NULL;
    }
    return t;
}

void familytab_free(familytab *t)
{
    if (!t)
        return;
    hashidx_free(t->by_family);
    hashidx_free(t->by_name);
    free(t->entries);
    free(t);
}

static const family_entry *lookup(const familytab *t, const hashidx *h, const void *key,
                                  size_t len)
{
    uint32_t i;
    return hashidx_find(h, key, len, &i) ? &t->entries[i] : NULL;
}

const family_entry *familytab_check(const familytab *t, const char *name,
                                    const unsigned char *family, int may_restart, int *differs)
{
    /* The entry whose family is ours under another name, and the one
     * whose name is ours with another family: the newer of the two (the
     * lower disk within one point) is reported. */
    const family_entry *same_family = lookup(t, t->by_family, family, ID_SIZE);
    const family_entry *same_name = lookup(t, t->by_name, name, strlen(name));
    if (same_family && strcmp(same_family->name, name) == 0)
        same_family = NULL;
    if (same_name && (may_restart || memcmp(same_name->family, family, ID_SIZE) == 0))
        same_name = NULL;
    if (same_family && same_name)
        *differs = same_name->point > same_family->point ||
                   (same_name->point == same_family->point && same_name->disk < same_family->disk);
    else
        *differs = same_name != NULL;
    return *differs ? same_name : same_family;
}

family_entry *familytab_add(familytab *t, const char *name, const unsigned char *family,
                            uint32_t point, uint32_t disk)
{
    uint32_t i;
    size_t len = strlen(name);
    if (len > DISK_NAME_MAX)
        return NULL;
    if (!hashidx_find(t->by_family, family, ID_SIZE, &i)) {
        if (t->count == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 16;
            family_entry *bigger = realloc(t->entries, cap * sizeof *bigger);
            if (!bigger)
                return NULL;
            t->entries = bigger;
            t->cap = cap;
        }
        i = (uint32_t)t->count;
        if (hashidx_put(t->by_family, family, ID_SIZE, i) != VMRP_OK)
            return NULL;
        family_entry *e = &t->entries[t->count++];
        memset(e, 0, sizeof *e);
        memcpy(e->name, name, len + 1);
        memcpy(e->family, family, ID_SIZE);
    }
    if (hashidx_put(t->by_name, name, len, i) != VMRP_OK)
        return NULL;
    family_entry *e = &t->entries[i];
    e->point = point;
    e->disk = disk;
    return e;
}
