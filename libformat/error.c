/* error.c - error codes, their names, and the message kept on each handle. */
#include <stdio.h>
#include <string.h>

#include "vmrp_private.h"

/* The enum in vmrp.h is the documented truth; the list must agree with it. */
#define VMRP_ERROR_CHECK_(name, value, text) \
    _Static_assert(name == value, #name " differs between the enum and VMRP_ERROR_LIST");
VMRP_ERROR_LIST(VMRP_ERROR_CHECK_)
#undef VMRP_ERROR_CHECK_

const char *vmrp_strerror(int code)
{
    switch (code) {
#define VMRP_ERROR_CASE_(name, value, text) \
    case value:                            \
        return text;
        VMRP_ERROR_LIST(VMRP_ERROR_CASE_)
#undef VMRP_ERROR_CASE_
    default:
        return "unknown error";
    }
}

int err_set(vmrp_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void err_clear(vmrp_err *e)
{
    e->code = 0;
    e->message[0] = '\0';
}

unsigned vmrp_version_number(void)
{
    return VMRP_VERSION_NUMBER;
}

const char *vmrp_version_string(void)
{
    return VMRP_VERSION_STRING;
}

int vmrp_init(void)
{
    return sodium_init() < 0 ? VMRP_E_CRYPTO : VMRP_OK;
}
