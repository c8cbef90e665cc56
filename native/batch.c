/* mskclient._native: open and seal batches of profile envelopes (docs/protocol.md#envelopes) on threads.

   No libsodium headers and no link against libsodium: bind() receives the addresses of
   crypto_aead_xchacha20poly1305_ietf_{decrypt,encrypt} and randombytes (libsodium's wrapper of
   randombytes_buf; PyNaCl's cffi module declares only that one) taken from PyNaCl's cffi module,
   so the process has one libsodium.  Parsing accepts exactly what mskclient.crypto.b64u_decode
   and Envelope.parse accept; every item gets its own result code (opened, malformed, or not
   authentic: the Python side asks Envelope.parse for a malformed item's exact error, and sends
   an item whose scratch could not grow to the pure path) and a batch never stops half-way.
   Python objects are only touched by the calling thread with the GIL held (phase 1: a
   reference to each item, which keeps its text and spec alive however the caller's list
   changes, pointers, and the output bytes; phase 3: report failures).
   Parsing, base64 and the crypto (phase 2) run without the GIL: alone, the calling thread
   opens each stretch of prepared items itself, while they are in its cache; with more input
   it starts pthreads that claim blocks of prepared items from an atomic counter and write
   straight into the output bytes, and joins them once it has prepared everything. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif

#define NPUBBYTES 24
#define NONCE_CHARS 32          /* base64url characters of a 24-byte nonce */
#define B64U_SLACK 8            /* bytes b64u_decode may write beyond the decoded length */
#define ABYTES 16
#define KEYBYTES 32
#define BLOCK_ITEMS 64          /* items a lane claims at a time */
#define BYTES_PER_LANE 65536    /* less input than this per thread is not worth a thread */
#define STRETCH_BYTES 262144    /* input a lone calling thread prepares before it opens them: fits its cache */
#define GIL_WAIT_NS 100000      /* re-taking the GIL took longer than this: another thread runs Python code */
#define MAX_LANES 64
#define AD_CACHE 32             /* distinct field specs remembered per call */

/* Per-item result codes; the Python side turns them into the pure path's errors. */
enum { OK = 0, E_MALFORMED, E_AUTH, E_NO_MEMORY };

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
/* The whole 32-character blocks of core characters into dst, 24 bytes each, as the scalar loop
   below decodes whole quads (each block stores 32 bytes: the last 8 are overwritten by the next
   block or are dst's B64U_SLACK): how many characters were decoded, or -1 when one is outside
   the alphabet.  As in Muła and Lemire, "Faster Base64 Encoding and Decoding Using AVX2
   Instructions" (2018), for the base64url alphabet: two table lookups by the high and the low
   nibble of each character check it (a character is refused when its high nibble's class bit
   is set in its low nibble's table entry), a third by the high nibble gives the offset to its
   6-bit value ('_' shares 'P'..'Z''s nibble and is corrected apart), then the 6-bit values
   are packed. */
__attribute__((target("avx2"))) static Py_ssize_t b64u_blocks(const unsigned char *s, size_t core, unsigned char *dst)
{
    /* classes of high nibble: 1 = 0x2_ ('-' only), 2 = 0x3_ (digits), 4 = 0x4_ and 0x6_ (letters
       from 1 on), 8 = 0x5_ (letters up to A, and '_'), 0x10 = 0x7_ (letters up to A), 0x20 = no
       base64url character; per low nibble, the classes in which it is refused */
    const __m256i refused_by_low = _mm256_setr_epi8(
        0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x23, 0x3B, 0x3B, 0x3A, 0x3B, 0x33,
        0x25, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x23, 0x3B, 0x3B, 0x3A, 0x3B, 0x33);
    const __m256i class_of_high = _mm256_setr_epi8(
        0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x01, 0x02, 0x04, 0x08, 0x04, 0x10, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20);
    const __m256i offset_by_high = _mm256_setr_epi8(
        0, 0, 62 - '-', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 62 - '-', 52 - '0', -'A', -'A', 26 - 'a', 26 - 'a', 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F), underscore = _mm256_set1_epi8('_');
    const __m256i underscore_fix = _mm256_set1_epi8((63 - '_') - -'A');
    const __m256i pairs = _mm256_set1_epi32(0x01400140), quads = _mm256_set1_epi32(0x00011000);
    const __m256i order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                                           2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    size_t i = 0;

    for (; i + 32 <= core; i += 32, dst += 24) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(s + i));
        const __m256i high = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
        __m256i v;

        if (!_mm256_testz_si256(_mm256_shuffle_epi8(refused_by_low, _mm256_and_si256(c, nibble)),
                                _mm256_shuffle_epi8(class_of_high, high)))
            return -1;
        v = _mm256_add_epi8(_mm256_shuffle_epi8(offset_by_high, high),
                            _mm256_and_si256(_mm256_cmpeq_epi8(c, underscore), underscore_fix));
        v = _mm256_add_epi8(c, v);
        v = _mm256_maddubs_epi16(v, pairs); /* pairs: a << 6 | b */
        v = _mm256_madd_epi16(v, quads);    /* quads: ab << 12 | cd, 24 bits */
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, order), lanes);
        _mm256_storeu_si256((__m256i *)dst, v);
    }
    return (Py_ssize_t)i;
}

static int has_avx2; /* set once at module init */
#endif

/* Decodes base64url as mskclient.crypto.b64u_decode does: padding optional but exact when
   present, unused low bits of the last symbol zero (canonical, as libsodium wants), any other
   character refused.  Returns the decoded length (b64u_length's) or -1; dst must hold
   b64u_length + B64U_SLACK bytes.  Whole blocks of 32 characters go through AVX2 where the CPU has it. */
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

/* ---- batches: the calling thread prepares items (GIL held) in blocks.  Alone, it opens or
   seals each stretch of blocks itself right after preparing it, with the GIL released, while
   the items are still in its cache; once the input so far is worth more lanes it starts them,
   they claim the prepared blocks, and the calling thread drops the GIL and joins them when it
   has prepared everything. */

typedef struct batch batch;

typedef struct {
    batch *b;
    unsigned char *scratch; /* open: grown to the longest ciphertext this lane decoded */
    size_t scratch_size;
    pthread_t tid;
    int started;
} lane;

struct batch {
    int (*prepare)(batch *b, PyObject *item, size_t i);       /* phase 1, GIL held; -1 with an exception */
    void (*one)(batch *b, size_t i, lane *l);                 /* phase 2, no GIL */
    PyObject *(*finish)(batch *b);                            /* phase 3, GIL held: the return value */
    size_t item_size;
    Py_ssize_t max_chars;   /* open: longer texts are refused before decoding */
    PyObject *seq;          /* the items: the caller's list (its size checked at each item) or a tuple */
    PyObject **held;        /* a reference to each item taken in phase 1, until its phase 2 is over */
    PyObject *out;          /* the result list, filled in phase 1 */
    ad_cache cache;
    void *items;            /* open_item[] or seal_item[] */
    size_t n;
    size_t input_bytes;     /* text or plaintext bytes prepared so far: one lane per BYTES_PER_LANE */
    unsigned char key[KEYBYTES];
    atomic_size_t next;     /* first item no lane has claimed */
    atomic_size_t ready;    /* items phase 1 has prepared */
    atomic_int abort;       /* phase 1 failed: lanes stop */
};

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
            b->one(b, i, l);
    }
}

/* Item i of the batch with a new reference in b->held[i], or NULL with an exception: ad_for runs
   Python code, and other threads run while the GIL is released, so a list may change meanwhile. */
static PyObject *hold_item(batch *b, size_t i)
{
    PyObject *item;

    if (PyList_Check(b->seq)) {
        if ((Py_ssize_t)i >= PyList_GET_SIZE(b->seq)) {
            PyErr_SetString(PyExc_RuntimeError, "items changed size during the batch");
            return NULL;
        }
        item = PyList_GET_ITEM(b->seq, (Py_ssize_t)i);
    } else {
        item = PyTuple_GET_ITEM(b->seq, (Py_ssize_t)i);
    }
    return b->held[i] = Py_NewRef(item);
}

static void release_items(batch *b, size_t start, size_t stop)
{
    for (size_t i = start; i < stop; i++)
        Py_DECREF(b->held[i]);
}

static inline int64_t monotonic_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* All three phases' work but the result, over at most max_lanes lanes, this thread being the
   first; a lane whose thread fails to start leaves its share to the others.  -1 when phase 1
   failed (exception set, lanes stopped). */
static int run_phases(batch *b, lane *lanes, int max_lanes)
{
    int nlanes = 1, failed = 0, contended = 0;
    size_t held = 0, released = 0, stretch_start = 0, stretch_bytes = 0;

    atomic_init(&b->next, 0);
    atomic_init(&b->ready, 0);
    atomic_init(&b->abort, 0);
    while (held < b->n) {
        size_t stop = b->n - held < BLOCK_ITEMS ? b->n : held + BLOCK_ITEMS, before = b->input_bytes;
        for (; held < stop; held++) {
            PyObject *item = hold_item(b, held);
            if (!item) {
                failed = 1;
                break;
            }
            if (b->prepare(b, item, held) < 0) {
                failed = 1;
                held++; /* its reference is taken */
                break;
            }
        }
        if (failed)
            break;
        stretch_bytes += b->input_bytes - before;
        atomic_store_explicit(&b->ready, stop, memory_order_release);
        while (nlanes < max_lanes && b->input_bytes / BYTES_PER_LANE >= (size_t)nlanes) {
            lanes[nlanes].started = pthread_create(&lanes[nlanes].tid, NULL, lane_run, &lanes[nlanes]) == 0;
            nlanes++;
        }
        if (nlanes > 1 || contended || (stop < b->n && stretch_bytes < STRETCH_BYTES))
            continue;
        /* alone (no lane can have claimed anything): this stretch now, then its references go.
           Once another thread kept the GIL meanwhile, the rest is prepared at once and opened
           with one release, as with lanes: each wait could last a switch interval (5 ms). */
        atomic_store(&b->next, stop);
        {
            PyThreadState *state = PyEval_SaveThread();
            int64_t done;
            for (size_t i = stretch_start; i < stop; i++)
                b->one(b, i, &lanes[0]);
            done = monotonic_ns();
            PyEval_RestoreThread(state);
            contended = monotonic_ns() - done > GIL_WAIT_NS;
        }
        release_items(b, released, stop);
        released = stretch_start = stop;
        stretch_bytes = 0;
    }
    if (failed)
        atomic_store(&b->abort, 1);
    atomic_store_explicit(&b->ready, failed ? 0 : b->n, memory_order_release);
    Py_BEGIN_ALLOW_THREADS
    if (!failed)
        lane_run(&lanes[0]);
    for (int t = 1; t < nlanes; t++)
        if (lanes[t].started)
            pthread_join(lanes[t].tid, NULL);
    Py_END_ALLOW_THREADS
    release_items(b, released, held);
    return -failed;
}

/* What open_batch and seal_batch share: the items, the result list, the lanes (at most
   `threads`), the phases and the cleanup.  Returns what b->finish made, or NULL with an exception. */
static PyObject *run_batch(batch *b, const char *key, Py_ssize_t keylen, PyObject *items, int threads)
{
    lane *lanes = NULL;
    int max_lanes = threads < 1 ? 1 : threads > MAX_LANES ? MAX_LANES : threads;
    PyObject *result = NULL;

    if (keylen != KEYBYTES)
        return PyErr_Format(PyExc_ValueError, "key must be %d bytes", KEYBYTES);
    if (!(b->seq = PyList_Check(items) ? Py_NewRef(items) : PySequence_Tuple(items)))
        return NULL;
    b->n = (size_t)(PyList_Check(b->seq) ? PyList_GET_SIZE(b->seq) : PyTuple_GET_SIZE(b->seq));
    b->out = PyList_New((Py_ssize_t)b->n);
    b->items = b->n < (size_t)PY_SSIZE_T_MAX / b->item_size ? PyMem_Malloc((b->n + 1) * b->item_size) : NULL;
    b->held = PyMem_Malloc((b->n + 1) * sizeof *b->held);
    lanes = PyMem_Calloc((size_t)max_lanes, sizeof *lanes);
    if (!b->out || !b->items || !b->held || !lanes) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (int t = 0; t < max_lanes; t++)
        lanes[t].b = b;
    memcpy(b->key, key, KEYBYTES);
    if (run_phases(b, lanes, max_lanes) == 0)
        result = b->finish(b);
    explicit_bzero(b->key, KEYBYTES);
done:
    if (lanes)
        for (int t = 0; t < max_lanes; t++)
            PyMem_RawFree(lanes[t].scratch);
    PyMem_Free(lanes);
    PyMem_Free(b->held);
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

/* The nonce part into nonce (NPUBBYTES + B64U_SLACK bytes): 0, or -1 when it is not one. */
static int decode_nonce(const char *text, size_t n, unsigned char *nonce)
{
    size_t core;

#ifdef HAVE_AVX2_PATH
    if (has_avx2 && n == NONCE_CHARS) /* the usual case: one whole block, where padding is refused */
        return b64u_blocks((const unsigned char *)text, n, nonce) == NONCE_CHARS ? 0 : -1;
#endif
    return b64u_length(text, n, &core) == NPUBBYTES && b64u_decode(text, n, nonce) == NPUBBYTES ? 0 : -1;
}

/* Envelope.parse + decrypt_field for the parts phase 1 found: a dot or any other character
   outside base64url in either part is refused by the decoding. */
static int open_envelope(const batch *b, const open_item *it, lane *l)
{
    unsigned char nonce[NPUBBYTES + B64U_SLACK];
    size_t need = it->body_len / 4 * 3 + 3 + B64U_SLACK;
    Py_ssize_t clen;

    if (decode_nonce(it->nonce, it->nonce_len, nonce) < 0)
        return E_MALFORMED;
    if (need > l->scratch_size) {
        unsigned char *grown = PyMem_RawRealloc(l->scratch, need);
        if (!grown)
            return E_NO_MEMORY;
        l->scratch = grown;
        l->scratch_size = need;
    }
    if ((clen = b64u_decode(it->body, it->body_len, l->scratch)) < ABYTES)
        return E_MALFORMED;
    /* phase 1 sized it->out from this very part: clen - ABYTES bytes */
    if (aead_decrypt(it->out, NULL, NULL, l->scratch, (unsigned long long)clen, it->ad, it->adlen, nonce, b->key) != 0)
        return E_AUTH;
    return OK;
}

static void open_one(batch *b, size_t i, lane *l)
{
    open_item *it = (open_item *)b->items + i;
    if (it->nonce)
        it->code = open_envelope(b, it, l);
}

/* Phase 1 for one item: pointers, or a code decided already.  When the text is "v1.", a part
   up to the next dot and a rest that could hold a ciphertext, the plaintext's bytes object
   goes into the result list now and a lane decodes the parts and decrypts straight into it. */
static int open_prepare(batch *b, PyObject *item, size_t i)
{
    open_item *it = (open_item *)b->items + i;
    PyObject *text, *out, *ad;
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
    len = PyUnicode_GET_LENGTH(text);
    if (len > b->max_chars || !PyUnicode_IS_ASCII(text))
        return 0;
    s = (const char *)PyUnicode_DATA(text); /* ASCII: its own UTF-8 */
    b->input_bytes += (size_t)len;
    /* the nonce's 32 characters are the usual case; a dot among them fails the nonce's decoding */
    if (len < 3 || memcmp(s, "v1.", 3) != 0)
        return 0;
    if (len > 3 + NONCE_CHARS && s[3 + NONCE_CHARS] == '.')
        dot = s + 3 + NONCE_CHARS;
    else if (!(dot = memchr(s + 3, '.', (size_t)len - 3)))
        return 0;
    clen = b64u_length(dot + 1, (size_t)(s + len - dot - 1), &core);
    if (clen < ABYTES)
        return 0;
    if (!(out = PyBytes_FromStringAndSize(NULL, clen - ABYTES)))
        return -1;
    PyList_SET_ITEM(b->out, (Py_ssize_t)i, out);
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
    batch b = {.prepare = open_prepare, .one = open_one, .finish = open_finish, .item_size = sizeof(open_item)};

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

static void seal_one(batch *b, size_t i, lane *l)
{
    seal_item *it = (seal_item *)b->items + i;

    (void)l;
    randombytes(it->nonce, NPUBBYTES);
    /* cannot fail: a bytes object is far below the AEAD's message size limit */
    aead_encrypt(it->c, NULL, it->m, it->mlen, it->ad, it->adlen, NULL, it->nonce, b->key);
}

/* Phase 1 for one item: pointers, and the (nonce, ciphertext) pair to fill. */
static int seal_prepare(batch *b, PyObject *item, size_t i)
{
    seal_item *it = (seal_item *)b->items + i;
    PyObject *m, *nonce, *c, *pair, *ad;

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
    b->input_bytes += it->mlen;
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
    PyList_SET_ITEM(b->out, (Py_ssize_t)i, pair);
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
        {"E_MALFORMED", E_MALFORMED}, {"E_AUTH", E_AUTH}, {"E_NO_MEMORY", E_NO_MEMORY},
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
