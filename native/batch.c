/* mskclient._native: open and seal batches of profile envelopes (docs/protocol.md#envelopes) on threads.

   No libsodium headers and no link against libsodium: bind() receives the addresses of
   crypto_aead_xchacha20poly1305_ietf_{decrypt,encrypt} and randombytes (libsodium's wrapper of
   randombytes_buf; PyNaCl's cffi module declares only that one) taken from PyNaCl's cffi module,
   so the process has one libsodium.  Parsing accepts exactly what mskclient.crypto.b64u_decode
   and Envelope.parse accept; every item gets its own result code (opened, malformed, or not
   authentic: the Python side asks Envelope.parse for a malformed item's exact error) and a
   batch never stops half-way.  Python objects are only touched by the calling thread with the
   GIL held (phase 1: take pointers, the batch's private tuple keeping every item alive, and
   allocate the output bytes; phase 3: report failures).
   Parsing, base64 and the crypto (phase 2) run without the GIL on pthreads that claim blocks
   of prepared items from an atomic counter and write straight into the output bytes; they
   start while phase 1 is still going, and the calling thread joins them once it is done. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define NPUBBYTES 24
#define ABYTES 16
#define KEYBYTES 32
#define BLOCK_ITEMS 64          /* items a lane claims at a time */
#define BYTES_PER_LANE 65536    /* less input than this per thread is not worth a thread */
#define MAX_LANES 64
#define AD_CACHE 32             /* distinct field specs remembered per call */

/* Per-item result codes; the Python side turns them into the pure path's errors. */
enum { OK = 0, E_MALFORMED, E_AUTH };

typedef int (*aead_decrypt_fn)(unsigned char *m, unsigned long long *mlen, unsigned char *nsec,
                               const unsigned char *c, unsigned long long clen, const unsigned char *ad,
                               unsigned long long adlen, const unsigned char *npub, const unsigned char *k);
typedef int (*aead_encrypt_fn)(unsigned char *c, unsigned long long *clen, const unsigned char *m,
                               unsigned long long mlen, const unsigned char *ad, unsigned long long adlen,
                               const unsigned char *nsec, const unsigned char *npub, const unsigned char *k);
typedef void (*randombytes_fn)(unsigned char *buf, unsigned long long size);

static aead_decrypt_fn aead_decrypt;
static aead_encrypt_fn aead_encrypt;
static randombytes_fn randombytes;

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static uint8_t B64[256]; /* 0..63, or 0xFF for a character outside base64url */
static uint32_t B64Q[4][256]; /* B64 pre-shifted for each place of a quad; bit 31 marks a bad character */

/* The decoded length of base64url text from its shape alone (padding optional but exact when
   present), or -1; sets *core to the length without padding. */
static Py_ssize_t b64u_length(const char *text, size_t n, size_t *core)
{
    size_t pad;

    for (*core = n; *core > 0 && text[*core - 1] == '='; --*core)
        ;
    pad = n - *core;
    if (*core % 4 == 1 || (pad && (pad > 2 || (*core + pad) % 4)))
        return -1;
    return (Py_ssize_t)(*core / 4 * 3 + (*core % 4 ? *core % 4 - 1 : 0));
}

#ifdef HAVE_AVX2_PATH
/* 32 base64url characters -> 24 bytes at dst (exactly 24 written), as the scalar loop below
   decodes whole quads; 0 when a character is outside the alphabet.  The range checks give
   each character its offset to its 6-bit value, then the 6-bit values are packed as in
   Muła and Lemire, "Faster Base64 Encoding and Decoding Using AVX2 Instructions" (2018). */
__attribute__((target("avx2"))) static inline int b64u_block32(const unsigned char *s, unsigned char *dst)
{
    const __m256i c = _mm256_loadu_si256((const __m256i *)s);
#define IN_RANGE(lo, hi) \
    _mm256_and_si256(_mm256_cmpgt_epi8(c, _mm256_set1_epi8((char)((lo) - 1))), \
                     _mm256_cmpgt_epi8(_mm256_set1_epi8((char)((hi) + 1)), c))
    const __m256i upper = IN_RANGE('A', 'Z'), lower = IN_RANGE('a', 'z'), digit = IN_RANGE('0', '9');
    const __m256i dash = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('-'));
    const __m256i under = _mm256_cmpeq_epi8(c, _mm256_set1_epi8('_'));
#undef IN_RANGE
    const __m256i valid = _mm256_or_si256(_mm256_or_si256(upper, lower), _mm256_or_si256(_mm256_or_si256(digit, dash), under));
    __m256i offset, v;

    if ((uint32_t)_mm256_movemask_epi8(valid) != 0xFFFFFFFFu) /* bytes >= 0x80 are negative: in no range */
        return 0;
    offset = _mm256_and_si256(upper, _mm256_set1_epi8(-'A'));
    offset = _mm256_or_si256(offset, _mm256_and_si256(lower, _mm256_set1_epi8(26 - 'a')));
    offset = _mm256_or_si256(offset, _mm256_and_si256(digit, _mm256_set1_epi8(52 - '0')));
    offset = _mm256_or_si256(offset, _mm256_and_si256(dash, _mm256_set1_epi8(62 - '-')));
    offset = _mm256_or_si256(offset, _mm256_and_si256(under, _mm256_set1_epi8(63 - '_')));
    v = _mm256_add_epi8(c, offset);
    v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140)); /* pairs: a << 6 | b */
    v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));     /* quads: ab << 12 | cd, 24 bits */
    v = _mm256_shuffle_epi8(v, _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                                2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
    _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(v));
    _mm_storel_epi64((__m128i *)(dst + 16), _mm256_extracti128_si256(v, 1));
    return 1;
}

/* The whole 32-character blocks of core characters into dst: how many characters were
   decoded, or -1 when one is outside the alphabet.  One loop, so the constants stay in registers. */
__attribute__((target("avx2"))) static Py_ssize_t b64u_blocks(const unsigned char *s, size_t core, unsigned char *dst)
{
    size_t i = 0;

    for (; i + 32 <= core; i += 32, dst += 24)
        if (!b64u_block32(s + i, dst))
            return -1;
    return (Py_ssize_t)i;
}

static int has_avx2; /* set once at module init */
#endif

/* Decodes base64url as mskclient.crypto.b64u_decode does: padding optional but exact when
   present, unused low bits of the last symbol zero (canonical, as libsodium wants), any other
   character refused.  Returns the decoded length (b64u_length's) or -1; dst must hold
   b64u_length bytes.  Whole blocks of 32 characters go through AVX2 where the CPU has it. */
static Py_ssize_t b64u_decode(const char *text, size_t n, unsigned char *dst)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t core, i = 0, o = 0;
    uint32_t bad = 0;
    Py_ssize_t length = b64u_length(text, n, &core);

    if (length < 0)
        return -1;
#ifdef HAVE_AVX2_PATH
    if (has_avx2 && core >= 32) {
        Py_ssize_t done = b64u_blocks(s, core, dst);
        if (done < 0)
            return -1;
        i = (size_t)done;
        o = i / 4 * 3;
    }
#endif
    for (; i + 4 <= core; i += 4, o += 3) {
        uint32_t v = B64Q[0][s[i]] | B64Q[1][s[i + 1]] | B64Q[2][s[i + 2]] | B64Q[3][s[i + 3]];
        bad |= v;
        dst[o] = (unsigned char)(v >> 16);
        dst[o + 1] = (unsigned char)(v >> 8);
        dst[o + 2] = (unsigned char)v;
    }
    if (bad >> 31)
        return -1;
    if (core - i >= 2) {
        uint32_t a = B64[s[i]], b = B64[s[i + 1]], c = core - i == 3 ? B64[s[i + 2]] : 0;
        if ((a | b | c) & 0x80 || (core - i == 2 ? b & 15 : c & 3))
            return -1;
        dst[o] = (unsigned char)(a << 2 | b >> 4);
        if (core - i == 3)
            dst[o + 1] = (unsigned char)(b << 4 | c >> 2);
    }
    return length;
}

/* ---- associated data: one call of ad_for(spec) per distinct spec (it also checks the key role) */

typedef struct {
    PyObject *fn;
    int used;
    struct { PyObject *spec, *ad; } e[AD_CACHE];
    PyObject *kept; /* a list of the ADs beyond the cache, or NULL */
} ad_cache;

/* A borrowed reference that lives as long as the cache: the items hold no references of
   their own (the batch's private tuple keeps every item, text and spec alive). */
static PyObject *ad_lookup(ad_cache *cache, PyObject *spec)
{
    PyObject *ad;

    for (int i = 0; i < cache->used; i++)
        if (cache->e[i].spec == spec)
            return cache->e[i].ad;
    if (!(ad = PyObject_CallOneArg(cache->fn, spec)))
        return NULL;
    if (!PyBytes_Check(ad)) {
        Py_DECREF(ad);
        PyErr_SetString(PyExc_TypeError, "ad_for must return bytes");
        return NULL;
    }
    if (cache->used < AD_CACHE) {
        cache->e[cache->used].spec = Py_NewRef(spec);
        cache->e[cache->used++].ad = ad;
        return ad;
    }
    if ((!cache->kept && !(cache->kept = PyList_New(0))) || PyList_Append(cache->kept, ad) < 0) {
        Py_DECREF(ad);
        return NULL;
    }
    Py_DECREF(ad);
    return ad;
}

static void ad_cache_clear(ad_cache *cache)
{
    for (int i = 0; i < cache->used; i++) {
        Py_DECREF(cache->e[i].spec);
        Py_DECREF(cache->e[i].ad);
    }
    Py_XDECREF(cache->kept);
}

/* ---- batches: phase 1 runs on the calling thread (GIL held) while the other lanes already
   work on the items prepared so far; then the calling thread drops the GIL and joins them. */

typedef struct batch batch;
struct batch {
    int (*prepare)(batch *b, Py_ssize_t i);                  /* phase 1, GIL held; -1 with an exception */
    void (*one)(batch *b, size_t i, unsigned char *scratch); /* phase 2, no GIL */
    PyObject *(*finish)(batch *b);                           /* phase 3, GIL held: the return value */
    size_t item_size;
    int needs_scratch;      /* open: a lane decodes each ciphertext into its scratch */
    Py_ssize_t max_chars;   /* open: longer texts are refused before decoding */
    PyObject *seq;          /* a private tuple of the items */
    PyObject *out;          /* the result list, filled in phase 1 */
    ad_cache cache;
    void *items;            /* open_item[] or seal_item[] */
    size_t n;
    unsigned char key[KEYBYTES];
    atomic_size_t next;     /* first item no lane has claimed */
    atomic_size_t ready;    /* items phase 1 has prepared */
    atomic_int abort;       /* phase 1 failed: lanes stop */
};

typedef struct {
    batch *b;
    unsigned char *scratch;
    pthread_t tid;
    int started;
} lane;

static void *lane_run(void *arg)
{
    lane *l = arg;
    batch *b = l->b;

    for (;;) {
        size_t start = atomic_fetch_add(&b->next, BLOCK_ITEMS), stop;
        if (start >= b->n)
            return NULL;
        stop = b->n - start < BLOCK_ITEMS ? b->n : start + BLOCK_ITEMS;
        while (atomic_load_explicit(&b->ready, memory_order_acquire) < stop) {
            if (atomic_load(&b->abort))
                return NULL;
            sched_yield();
        }
        for (size_t i = start; i < stop; i++)
            b->one(b, i, l->scratch);
    }
}

/* Both phases over nlanes lanes, this thread being the first; a lane whose thread fails to
   start leaves its share to the others.  -1 when phase 1 failed (exception set, lanes stopped). */
static int run_phases(batch *b, lane *lanes, int nlanes)
{
    int failed = 0;

    atomic_init(&b->next, 0);
    atomic_init(&b->ready, 0);
    atomic_init(&b->abort, 0);
    for (int t = 1; t < nlanes; t++)
        lanes[t].started = pthread_create(&lanes[t].tid, NULL, lane_run, &lanes[t]) == 0;
    for (size_t i = 0; i < b->n; i++) {
        if (b->prepare(b, (Py_ssize_t)i) < 0) {
            failed = 1;
            atomic_store(&b->abort, 1);
            break;
        }
        if ((i + 1) % BLOCK_ITEMS == 0)
            atomic_store_explicit(&b->ready, i + 1, memory_order_release);
    }
    atomic_store_explicit(&b->ready, failed ? 0 : b->n, memory_order_release);
    Py_BEGIN_ALLOW_THREADS
    if (!failed)
        lane_run(&lanes[0]);
    for (int t = 1; t < nlanes; t++)
        if (lanes[t].started)
            pthread_join(lanes[t].tid, NULL);
    Py_END_ALLOW_THREADS
    return -failed;
}

/* Adds the length of an item's text or plaintext to *total and *longest. */
static inline void add_size(PyObject *item, size_t *total, size_t *longest)
{
    PyObject *x;
    Py_ssize_t len = 0;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 1)
        return;
    x = PyTuple_GET_ITEM(item, 0);
    if (PyUnicode_Check(x))
#if PY_VERSION_HEX < 0x030C0000
        len = PyUnicode_IS_READY(x) ? PyUnicode_GET_LENGTH(x) : PyUnicode_GetLength(x);
#else
        len = PyUnicode_GET_LENGTH(x);
#endif
    else if (PyBytes_Check(x))
        len = PyBytes_GET_SIZE(x);
    *total += (size_t)len;
    *longest = (size_t)len > *longest ? (size_t)len : *longest;
}

/* What open_batch and seal_batch share: the private tuple, the result list, the items, the
   lanes (one per BYTES_PER_LANE of input, at most `threads`), the phases and the cleanup.
   Returns what b->finish made, or NULL with an exception. */
static PyObject *run_batch(batch *b, const char *key, Py_ssize_t keylen, PyObject *items, int threads)
{
    size_t total = 0, longest = 0, scratch_size = 1;
    unsigned char *scratch = NULL;
    lane *lanes = NULL;
    int nlanes;
    PyObject *result = NULL;

    if (keylen != KEYBYTES)
        return PyErr_Format(PyExc_ValueError, "key must be %d bytes", KEYBYTES);
    /* our own copy (ad_for runs Python code that could change a list), and the sizes for the
       lane count and the scratch, in one pass over a list: each item is fetched from memory once */
    if (PyList_Check(items)) {
        Py_ssize_t n = PyList_GET_SIZE(items);
        if (!(b->seq = PyTuple_New(n)))
            return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyList_GET_ITEM(items, i);
            PyTuple_SET_ITEM(b->seq, i, Py_NewRef(item));
            add_size(item, &total, &longest);
        }
    } else {
        if (!(b->seq = PySequence_Tuple(items)))
            return NULL;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(b->seq); i++)
            add_size(PyTuple_GET_ITEM(b->seq, i), &total, &longest);
    }
    b->n = (size_t)PyTuple_GET_SIZE(b->seq);
    if (b->needs_scratch)
        scratch_size = (longest < (size_t)b->max_chars ? longest : (size_t)b->max_chars) / 4 * 3 + 3;
    nlanes = threads < 1 ? 1 : threads > MAX_LANES ? MAX_LANES : threads;
    nlanes = total / BYTES_PER_LANE + 1 < (size_t)nlanes ? (int)(total / BYTES_PER_LANE + 1) : nlanes;
    b->out = PyList_New((Py_ssize_t)b->n);
    b->items = b->n < (size_t)PY_SSIZE_T_MAX / b->item_size ? PyMem_Malloc((b->n + 1) * b->item_size) : NULL;
    lanes = PyMem_Calloc((size_t)nlanes, sizeof *lanes);
    scratch = PyMem_RawMalloc(scratch_size * (size_t)nlanes);
    if (!b->out || !b->items || !lanes || !scratch) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (int t = 0; t < nlanes; t++)
        lanes[t] = (lane){.b = b, .scratch = scratch + scratch_size * (size_t)t};
    memcpy(b->key, key, KEYBYTES);
    if (run_phases(b, lanes, nlanes) == 0)
        result = b->finish(b);
    explicit_bzero(b->key, KEYBYTES);
done:
    PyMem_RawFree(scratch);
    PyMem_Free(lanes);
    PyMem_Free(b->items);
    ad_cache_clear(&b->cache);
    Py_XDECREF(b->out);
    Py_DECREF(b->seq);
    return result;
}

static int check_bound(void)
{
    if (aead_decrypt && aead_encrypt && randombytes)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "mskclient._native: bind() has not been called");
    return -1;
}

/* ---- open */

typedef struct {
    const char *nonce, *body; /* the parts after "v1.", or NULL when phase 1 already set the code */
    size_t nonce_len, body_len;
    const unsigned char *ad;
    size_t adlen;
    unsigned char *out;  /* the bytes object for the plaintext, when the shape leaves room */
    int code;
} open_item;

/* Envelope.parse + decrypt_field for the parts phase 1 found: a dot or any other character
   outside base64url in either part is refused by the decoding. */
static int open_envelope(const batch *b, const open_item *it, unsigned char *scratch)
{
    unsigned char nonce[NPUBBYTES];
    Py_ssize_t clen;
    size_t core;

    if (b64u_length(it->nonce, it->nonce_len, &core) != NPUBBYTES
        || b64u_decode(it->nonce, it->nonce_len, nonce) != NPUBBYTES
        || (clen = b64u_decode(it->body, it->body_len, scratch)) < ABYTES)
        return E_MALFORMED;
    /* phase 1 sized it->out from this very part: clen - ABYTES bytes */
    if (aead_decrypt(it->out, NULL, NULL, scratch, (unsigned long long)clen, it->ad, it->adlen, nonce, b->key) != 0)
        return E_AUTH;
    return OK;
}

static void open_one(batch *b, size_t i, unsigned char *scratch)
{
    open_item *it = (open_item *)b->items + i;
    if (it->nonce)
        it->code = open_envelope(b, it, scratch);
}

/* Phase 1 for one item: pointers, or a code decided already.  When the text is "v1.", a part
   up to the next dot and a rest that could hold a ciphertext, the plaintext's bytes object
   goes into the result list now and a lane decodes the parts and decrypts straight into it. */
static int open_prepare(batch *b, Py_ssize_t i)
{
    open_item *it = (open_item *)b->items + i;
    PyObject *item = PyTuple_GET_ITEM(b->seq, i), *text, *out, *ad;
    Py_ssize_t len, clen;
    const char *s, *dot;
    size_t core;

    it->nonce = NULL;
    it->code = E_MALFORMED;
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
        PyErr_SetString(PyExc_TypeError, "items must be (text, spec, entity_id) tuples");
        return -1;
    }
    if (!(ad = ad_lookup(&b->cache, PyTuple_GET_ITEM(item, 1))))
        return -1;
    it->ad = (const unsigned char *)PyBytes_AS_STRING(ad);
    it->adlen = (size_t)PyBytes_GET_SIZE(ad);
    text = PyTuple_GET_ITEM(item, 0);
    if (!PyUnicode_Check(text)) /* an Envelope object too: the Python side opens it */
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return -1;
#endif
    if (PyUnicode_GET_LENGTH(text) > b->max_chars || !PyUnicode_IS_ASCII(text))
        return 0;
    if (!(s = PyUnicode_AsUTF8AndSize(text, &len)))
        return -1;
    if (len < 3 || memcmp(s, "v1.", 3) != 0 || !(dot = memchr(s + 3, '.', (size_t)len - 3)))
        return 0;
    clen = b64u_length(dot + 1, (size_t)(s + len - dot - 1), &core);
    if (clen < ABYTES)
        return 0;
    if (!(out = PyBytes_FromStringAndSize(NULL, clen - ABYTES)))
        return -1;
    PyList_SET_ITEM(b->out, i, out);
    it->out = (unsigned char *)PyBytes_AS_STRING(out);
    it->nonce = s + 3;
    it->nonce_len = (size_t)(dot - s - 3);
    it->body = dot + 1;
    it->body_len = (size_t)(s + len - dot - 1);
    it->code = OK;
    return 0;
}

/* Phase 3: None in place of each failure, and the (index, code) list. */
static PyObject *open_finish(batch *b)
{
    const open_item *items = b->items;
    PyObject *failed = PyList_New(0), *v;

    if (!failed)
        return NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (items[i].code == OK)
            continue;
        Py_XDECREF(PyList_GET_ITEM(b->out, (Py_ssize_t)i));
        PyList_SET_ITEM(b->out, (Py_ssize_t)i, Py_NewRef(Py_None));
        v = Py_BuildValue("(ni)", (Py_ssize_t)i, items[i].code);
        if (!v || PyList_Append(failed, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(failed);
            return NULL;
        }
        Py_DECREF(v);
    }
    return Py_BuildValue("(ON)", b->out, failed);
}

PyDoc_STRVAR(open_batch_doc,
"open_batch(key, items, ad_for, threads, max_chars) -> (plaintexts, failures)\n\n"
"items: sequence of (text, spec, entity_id) tuples; ad_for(spec) -> associated data bytes.\n"
"plaintexts[i] is bytes, or None when (i, code) is in failures.");

static PyObject *open_batch(PyObject *self, PyObject *args)
{
    const char *key;
    Py_ssize_t keylen;
    PyObject *items;
    int threads;
    batch b = {.prepare = open_prepare, .one = open_one, .finish = open_finish, .item_size = sizeof(open_item),
               .needs_scratch = 1};

    (void)self;
    if (check_bound() < 0
        || !PyArg_ParseTuple(args, "y#OOin", &key, &keylen, &items, &b.cache.fn, &threads, &b.max_chars))
        return NULL;
    return run_batch(&b, key, keylen, items, threads);
}

/* ---- seal */

typedef struct {
    const unsigned char *m, *ad;
    size_t mlen, adlen;
    unsigned char *nonce, *c; /* the buffers of fresh bytes objects in the result */
} seal_item;

static void seal_one(batch *b, size_t i, unsigned char *scratch)
{
    seal_item *it = (seal_item *)b->items + i;

    (void)scratch;
    randombytes(it->nonce, NPUBBYTES);
    /* cannot fail: a bytes object is far below the AEAD's message size limit */
    aead_encrypt(it->c, NULL, it->m, it->mlen, it->ad, it->adlen, NULL, it->nonce, b->key);
}

/* Phase 1 for one item: references, pointers, and the (nonce, ciphertext) pair to fill. */
static int seal_prepare(batch *b, Py_ssize_t i)
{
    seal_item *it = (seal_item *)b->items + i;
    PyObject *item = PyTuple_GET_ITEM(b->seq, i), *m, *nonce, *c, *pair, *ad;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "items must be (plaintext, spec) tuples");
        return -1;
    }
    m = PyTuple_GET_ITEM(item, 0);
    if (!PyBytes_Check(m)) {
        PyErr_SetString(PyExc_TypeError, "plaintext must be bytes");
        return -1;
    }
    if (!(ad = ad_lookup(&b->cache, PyTuple_GET_ITEM(item, 1))))
        return -1;
    it->m = (const unsigned char *)PyBytes_AS_STRING(m);
    it->mlen = (size_t)PyBytes_GET_SIZE(m);
    it->ad = (const unsigned char *)PyBytes_AS_STRING(ad);
    it->adlen = (size_t)PyBytes_GET_SIZE(ad);
    nonce = PyBytes_FromStringAndSize(NULL, NPUBBYTES);
    c = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(m) + ABYTES);
    if (!nonce || !c) {
        Py_XDECREF(nonce);
        Py_XDECREF(c);
        return -1;
    }
    it->nonce = (unsigned char *)PyBytes_AS_STRING(nonce);
    it->c = (unsigned char *)PyBytes_AS_STRING(c);
    if (!(pair = Py_BuildValue("(NN)", nonce, c)))
        return -1;
    PyList_SET_ITEM(b->out, i, pair);
    return 0;
}

static PyObject *seal_finish(batch *b) { return Py_NewRef(b->out); }

PyDoc_STRVAR(seal_batch_doc,
"seal_batch(key, items, ad_for, threads) -> [(nonce, ciphertext), ...]\n\n"
"items: sequence of (plaintext bytes, spec) tuples; a fresh random nonce per item.");

static PyObject *seal_batch(PyObject *self, PyObject *args)
{
    const char *key;
    Py_ssize_t keylen;
    PyObject *items;
    int threads;
    batch b = {.prepare = seal_prepare, .one = seal_one, .finish = seal_finish, .item_size = sizeof(seal_item)};

    (void)self;
    if (check_bound() < 0 || !PyArg_ParseTuple(args, "y#OOi", &key, &keylen, &items, &b.cache.fn, &threads))
        return NULL;
    return run_batch(&b, key, keylen, items, threads);
}

/* ---- the benchmark's limit, and binding */

PyDoc_STRVAR(aead_loop_doc,
"aead_loop(key, nonce, ciphertext, ad, count) -> int\n\n"
"Decrypts the same decoded ciphertext count times on this thread (GIL released) and returns\n"
"how many authenticated: the raw AEAD cost a batch open cannot beat.");

static PyObject *aead_loop(PyObject *self, PyObject *args)
{
    const char *key, *nonce, *c, *ad;
    Py_ssize_t keylen, noncelen, clen, adlen, count, ok = 0;
    unsigned char *m;

    (void)self;
    if (check_bound() < 0
        || !PyArg_ParseTuple(args, "y#y#y#y#n", &key, &keylen, &nonce, &noncelen, &c, &clen, &ad, &adlen, &count))
        return NULL;
    if (keylen != KEYBYTES || noncelen != NPUBBYTES || clen < ABYTES)
        return PyErr_Format(PyExc_ValueError, "need a %d-byte key, %d-byte nonce and at least %d bytes of ciphertext",
                            KEYBYTES, NPUBBYTES, ABYTES);
    if (!(m = PyMem_RawMalloc((size_t)clen)))
        return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++)
        ok += aead_decrypt(m, NULL, NULL, (const unsigned char *)c, (unsigned long long)clen,
                           (const unsigned char *)ad, (unsigned long long)adlen, (const unsigned char *)nonce,
                           (const unsigned char *)key) == 0;
    Py_END_ALLOW_THREADS
    explicit_bzero(m, (size_t)clen);
    PyMem_RawFree(m);
    return PyLong_FromSsize_t(ok);
}

/* ---- one sealed message: a relay frame */

#define OPEN_MESSAGE_GIL_BYTES 65536 /* larger messages are opened with the GIL released */

PyDoc_STRVAR(open_message_doc,
"open_message(key, sealed, ad) -> bytes | None\n\n"
"Opens sealed = nonce(24) || XChaCha20-Poly1305 ciphertext under key with associated data ad;\n"
"None when it does not authenticate.  On the calling thread: a relay frame is a few dozen bytes,\n"
"for which PyNaCl's wrapper (buffers allocated through cffi, checks in Python) costs several\n"
"times the AEAD itself, and every participant in a room opens every frame.");

static PyObject *open_message(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    const char *key, *sealed, *ad;
    Py_ssize_t keylen, sealedlen, adlen, mlen;
    PyObject *out;
    int failed;

    (void)self;
    if (check_bound() < 0)
        return NULL;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyBytes_Check(args[1]) || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "open_message(key, sealed, ad) takes three bytes objects");
        return NULL;
    }
    key = PyBytes_AS_STRING(args[0]), keylen = PyBytes_GET_SIZE(args[0]);
    sealed = PyBytes_AS_STRING(args[1]), sealedlen = PyBytes_GET_SIZE(args[1]);
    ad = PyBytes_AS_STRING(args[2]), adlen = PyBytes_GET_SIZE(args[2]);
    if (keylen != KEYBYTES || sealedlen < NPUBBYTES + ABYTES)
        return PyErr_Format(PyExc_ValueError, "need a %d-byte key and at least %d sealed bytes", KEYBYTES,
                            NPUBBYTES + ABYTES);
    mlen = sealedlen - NPUBBYTES - ABYTES;
    if (!(out = PyBytes_FromStringAndSize(NULL, mlen)))
        return NULL;
#define OPEN_MESSAGE_CALL                                                                                          \
    aead_decrypt((unsigned char *)PyBytes_AS_STRING(out), NULL, NULL, (const unsigned char *)sealed + NPUBBYTES, \
                 (unsigned long long)(sealedlen - NPUBBYTES), (const unsigned char *)ad, (unsigned long long)adlen, \
                 (const unsigned char *)sealed, (const unsigned char *)key) != 0
    if (sealedlen < OPEN_MESSAGE_GIL_BYTES) {
        failed = OPEN_MESSAGE_CALL;
    } else {
        Py_BEGIN_ALLOW_THREADS
        failed = OPEN_MESSAGE_CALL;
        Py_END_ALLOW_THREADS
    }
#undef OPEN_MESSAGE_CALL
    if (failed) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

PyDoc_STRVAR(bind_doc,
"bind(aead_decrypt, aead_encrypt, randombytes)\n\n"
"Addresses (ints) of libsodium's crypto_aead_xchacha20poly1305_ietf_decrypt, _encrypt and\n"
"randombytes (which calls randombytes_buf), taken from PyNaCl so that the process uses one libsodium.");

static PyObject *bind(PyObject *self, PyObject *args)
{
    unsigned long long dec, enc, rnd;

    (void)self;
    if (!PyArg_ParseTuple(args, "KKK", &dec, &enc, &rnd))
        return NULL;
    if (!dec || !enc || !rnd) {
        PyErr_SetString(PyExc_ValueError, "null function address");
        return NULL;
    }
    aead_decrypt = (aead_decrypt_fn)(uintptr_t)dec;
    aead_encrypt = (aead_encrypt_fn)(uintptr_t)enc;
    randombytes = (randombytes_fn)(uintptr_t)rnd;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS, bind_doc},
    {"open_batch", open_batch, METH_VARARGS, open_batch_doc},
    {"seal_batch", seal_batch, METH_VARARGS, seal_batch_doc},
    {"aead_loop", aead_loop, METH_VARARGS, aead_loop_doc},
    {"open_message", (PyCFunction)(void (*)(void))open_message, METH_FASTCALL, open_message_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "mskclient._native",
    "Batch open/seal of envelopes on threads, over PyNaCl's libsodium (see native/batch.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    static const struct { const char *name; int value; } codes[] = {
        {"E_MALFORMED", E_MALFORMED}, {"E_AUTH", E_AUTH},
    };
    PyObject *m = PyModule_Create(&module);

    if (!m)
        return NULL;
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2");
#endif
    memset(B64, 0xFF, sizeof B64);
    for (int i = 0; i < 64; i++)
        B64[(unsigned char)ALPHABET[i]] = (uint8_t)i;
    for (int c = 0; c < 256; c++)
        for (int place = 0; place < 4; place++)
            B64Q[place][c] = B64[c] == 0xFF ? 1u << 31 : (uint32_t)B64[c] << (18 - 6 * place);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (PyModule_AddIntConstant(m, codes[i].name, codes[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
