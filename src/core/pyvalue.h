/* pyvalue.h - the stored form of a Python task's result: its repr, readable
 * without an interpreter, followed by its pickle. Internal to sitq (not in
 * sitq.h): the Python binding writes it and reads the pickle back; the
 * `sitq` command (show, wait, list --json) and its dashboard read the repr.
 *
 * Why a repr is stored at all: a pickle can only be read by running Python
 * (and loading one runs code), so an operator looking at a result with
 * `sitq show` would otherwise see escaped pickle bytes. The worker, which
 * holds the value anyway, writes a short repr next to it once, at
 * completion; readers never need Python.
 *
 * The record, version 1 (all of it one stored result):
 *
 *   offset  size  field
 *   0       4     magic FF 73 71 76 ("\xffsqv"): 0xff is no pickle opcode,
 *                 and every pickle this binding writes (protocol 2 to 5)
 *                 starts with PROTO, 0x80; so a result is a record, a bare
 *                 pickle (stored before records existed) or neither by its
 *                 first byte
 *   4       1     version: 1
 *   5       2     R, the length of the repr in bytes, big-endian, at most
 *                 SITQ__PYVALUE_REPR_MAX
 *   7       R     the repr: UTF-8, no NUL byte (the binding bounds it to
 *                 SITQ__PYVALUE_REPR_CHARS characters)
 *   7 + R   rest  the pickle of the value: PROTO (0x80), a protocol 2..5,
 *                 and at least one more byte
 *
 * The repr is first so that reading it needs only the head of the result;
 * the pickle is not copied or re-encoded. */
#ifndef SITQ_CORE_PYVALUE_H
#define SITQ_CORE_PYVALUE_H

#include <stddef.h>

/** The magic prefix of a record and its length. */
#define SITQ__PYVALUE_MAGIC     "\xffsqv"
#define SITQ__PYVALUE_MAGIC_LEN 4
/** The version this code writes and reads. */
#define SITQ__PYVALUE_VERSION 1
/** Bytes before the repr: magic, version and R. */
#define SITQ__PYVALUE_HEADER_LEN 7
/** Characters of repr the binding stores at most (a longer one is cut). */
#define SITQ__PYVALUE_REPR_CHARS 200
/** Largest R a reader accepts, in bytes (200 characters of 4 bytes, with room). */
#define SITQ__PYVALUE_REPR_MAX 1024

/** What a stored result is (sitq__pyvalue_parse). */
typedef enum sitq__pyvalue_kind {
    SITQ__PYVALUE_BAD = -1,   /**< starts with the magic but is not a valid record */
    SITQ__PYVALUE_OTHER = 0,  /**< neither a record nor a pickle (not the binding's) */
    SITQ__PYVALUE_PICKLE = 1, /**< a bare pickle: no repr stored */
    SITQ__PYVALUE_RECORD = 2  /**< a record: repr and pickle */
} sitq__pyvalue_kind;

/** The parts of a stored result; pointers borrow from the parsed bytes. */
typedef struct sitq__pyvalue {
    sitq__pyvalue_kind kind;
    const char *repr;            /**< RECORD: the repr (UTF-8, not NUL-terminated), else NULL */
    size_t repr_len;             /**< its length in bytes */
    const unsigned char *pickle; /**< RECORD and PICKLE: the pickle, else NULL */
    size_t pickle_len;           /**< its length in bytes */
} sitq__pyvalue;

/** Classify the len bytes at data (NULL when len is 0) and fill *out (all of
 * it, whatever the kind). Returns out->kind; for SITQ__PYVALUE_BAD a reason
 * is written to why (why_len bytes, always NUL-terminated when why_len > 0;
 * why may be NULL), "" otherwise. Pure; thread-safe. */
sitq__pyvalue_kind sitq__pyvalue_parse(const void *data, size_t len, sitq__pyvalue *out, char *why,
                                       size_t why_len);

/** A malloc'd record of repr (repr_len bytes of UTF-8 without NUL, at most
 * SITQ__PYVALUE_REPR_MAX) and pickle (pickle_len bytes, a pickle as the
 * record requires), its length in *out_len. NULL when an argument breaks
 * those rules (nothing is cut or checked for UTF-8 here: the caller
 * bounds its repr) or memory runs out. Thread-safe. */
void *sitq__pyvalue_build(const char *repr, size_t repr_len, const void *pickle, size_t pickle_len,
                          size_t *out_len);

/** 1 when function is the stored name of a Python task ("py:..."), else 0
 * (NULL gives 0): only such results are read as records or pickles. */
int sitq__pyvalue_function(const char *function);

#endif
