/*
 * bucketcache_plugin.h: the C ABI of bucketcache backend plugins, version 1.
 *
 * A plugin is a shared library exporting one function:
 *
 *     const BucketcachePluginTable *bucketcache_plugin_table(void);
 *
 * It returns the same table on every call (or NULL if the plugin cannot initialise). The host
 * reads abi_version and struct_size first and refuses a table of another version or size.
 *
 * Values cross the boundary as bytes: `encode` receives the stored value as one MessagePack
 * item and `decode` returns it the same way. Memory: the host's inputs are borrowed for one
 * call; every buffer the plugin writes to an out-parameter (result or UTF-8 error message) is
 * the plugin's and is passed back to its `free` exactly once. The functions may be called from
 * several threads at once. Expirations are naive UTC microseconds since 1970-01-01T00:00:00.
 *
 * The host refuses a table whose encode, decode or free is NULL, or whose name or extension is
 * NULL. An answered buffer must be non-NULL unless empty and at most 1 GiB long; otherwise that
 * call fails. A plugin that crashes or calls abort() takes the host process down.
 *
 * The Rust SDK (crate bucketcache-plugin-sdk) writes all of this for you; a test of that crate
 * checks this header against the Rust definitions (field order, offsets and sizes below).
 */
#ifndef BUCKETCACHE_PLUGIN_H
#define BUCKETCACHE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BUCKETCACHE_PLUGIN_ABI_VERSION 1u
#define BUCKETCACHE_PLUGIN_ENTRY_SYMBOL "bucketcache_plugin_table"

/* Return codes of encode and decode. */
#define BUCKETCACHE_STATUS_OK 0     /* the out buffer holds the result */
#define BUCKETCACHE_STATUS_ERROR 1  /* the out buffer holds a UTF-8 error message */
#define BUCKETCACHE_STATUS_PANIC 2  /* internal fault; the out buffer holds a UTF-8 message */

/* A byte buffer owned by the plugin. `cap` is the plugin's own bookkeeping. */
typedef struct BucketcacheBuffer {
    uint8_t *ptr; /* may be NULL when len is 0 */
    size_t len;
    size_t cap;
} BucketcacheBuffer;

/* An optional expiration. */
typedef struct BucketcacheExpiration {
    int64_t micros;   /* naive UTC microseconds since the epoch; meaningful if present == 1 */
    uint32_t present; /* 1: expires at `micros`; 0: never expires */
    uint32_t reserved; /* must be 0 */
} BucketcacheExpiration;

/* Encode the envelope {value, expiration} into a file's bytes, written to *out. */
typedef int32_t (*BucketcacheEncodeFn)(const void *context, const uint8_t *value,
                                       size_t value_len,
                                       const BucketcacheExpiration *expiration,
                                       BucketcacheBuffer *out);

/* Decode a file's bytes: on success *value_out holds the value (one MessagePack item) and
 * *expiration_out the expiration; on failure *value_out holds the message. Every malformed or
 * truncated input must fail. */
typedef int32_t (*BucketcacheDecodeFn)(const void *context, const uint8_t *bytes, size_t len,
                                       BucketcacheBuffer *value_out,
                                       BucketcacheExpiration *expiration_out);

/* Release a buffer this plugin wrote into an out-parameter. */
typedef void (*BucketcacheFreeFn)(const void *context, BucketcacheBuffer buffer);

typedef struct BucketcachePluginTable {
    uint32_t abi_version;          /* BUCKETCACHE_PLUGIN_ABI_VERSION; always first */
    uint32_t struct_size;          /* sizeof(BucketcachePluginTable); always second */
    uint32_t binary;               /* 1: binary files, 0: text files */
    uint32_t reserved;             /* must be 0 */
    const char *name;              /* registry name, lowercase [a-z0-9_-]+, NUL-terminated */
    const char *file_extension;    /* without the dot, [A-Za-z0-9]+ */
    const char *python_class_name; /* Python class name, or NULL */
    const void *context;           /* passed back to every function */
    BucketcacheEncodeFn encode;
    BucketcacheDecodeFn decode;
    BucketcacheFreeFn free;
} BucketcachePluginTable;

const BucketcachePluginTable *bucketcache_plugin_table(void);

/* Layout on 64-bit targets, checked against the Rust definitions by the SDK's tests. */
#ifdef __cplusplus
#define BUCKETCACHE_STATIC_ASSERT(e, m) static_assert(e, m)
#else
#define BUCKETCACHE_STATIC_ASSERT(e, m) _Static_assert(e, m)
#endif
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
BUCKETCACHE_STATIC_ASSERT(sizeof(BucketcacheBuffer) == 24, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheBuffer, ptr) == 0, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheBuffer, len) == 8, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheBuffer, cap) == 16, "layout");
BUCKETCACHE_STATIC_ASSERT(sizeof(BucketcacheExpiration) == 16, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheExpiration, micros) == 0, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheExpiration, present) == 8, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcacheExpiration, reserved) == 12, "layout");
BUCKETCACHE_STATIC_ASSERT(sizeof(BucketcachePluginTable) == 72, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, abi_version) == 0, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, struct_size) == 4, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, binary) == 8, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, reserved) == 12, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, name) == 16, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, file_extension) == 24, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, python_class_name) == 32, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, context) == 40, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, encode) == 48, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, decode) == 56, "layout");
BUCKETCACHE_STATIC_ASSERT(offsetof(BucketcachePluginTable, free) == 64, "layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* BUCKETCACHE_PLUGIN_H */
