/*
 * signpost_plugin.h - the C ABI of Signpost health-source plugins, major
 * version 1.
 *
 * A plugin is a shared library that exports one function,
 *
 *     const struct signpost_plugin *signpost_health_plugin_v1(void);
 *
 * returning a pointer to a descriptor that lives as long as the library.
 * The major version is in the symbol's name: a library built for another
 * major version is not even found. signpostd loads each plugin in a child
 * process of its own (the daemon re-executed), so a plugin that crashes,
 * hangs or reports garbage only makes its targets "unknown".
 *
 * Rules:
 *  - abi_version is SIGNPOST_PLUGIN_ABI_VERSION; the host refuses another
 *    major version.
 *  - struct_size is sizeof(struct signpost_plugin) as the plugin was built;
 *    later minor versions only append fields, so a host reads only the
 *    fields that fit in struct_size.
 *  - name must equal the `name` of the [plugin.ID] table (default: ID).
 *  - All strings are NUL-terminated UTF-8. A target name is 1-255 bytes
 *    without white space or control characters; a reason is free text
 *    (control characters are replaced, it is cut at 300 bytes).
 *  - create() is called once with the table's `config` string; it returns
 *    an instance, or NULL after writing a message into error (at most
 *    error_len bytes including the NUL).
 *  - poll() is called every `interval` seconds from one thread. It calls
 *    report() once per target it knows, before returning, and returns 0;
 *    a non-zero return makes every target of the plugin unknown. It must
 *    return within `timeout` seconds. A target it does not report is
 *    unknown.
 *  - destroy() frees the instance.
 */
#ifndef SIGNPOST_PLUGIN_H
#define SIGNPOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define SIGNPOST_PLUGIN_ABI_MAJOR 1
#define SIGNPOST_PLUGIN_ABI_MINOR 0
#define SIGNPOST_PLUGIN_ABI_VERSION \
    ((uint32_t)((SIGNPOST_PLUGIN_ABI_MAJOR << 16) | SIGNPOST_PLUGIN_ABI_MINOR))

#define SIGNPOST_DOWN 0
#define SIGNPOST_UP 1
#define SIGNPOST_UNKNOWN 2

typedef void (*signpost_report_fn)(void *sink, const char *target,
                                   int32_t state, const char *reason);

struct signpost_plugin {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;
    const char *version;
    void *(*create)(const char *config, char *error, size_t error_len);
    int32_t (*poll)(void *instance, signpost_report_fn report, void *sink);
    void (*destroy)(void *instance);
};

const struct signpost_plugin *signpost_health_plugin_v1(void);

#endif
