/*
 * Unit tests for hs_slab.h: objects are zeroed, distinct, aligned and reused; a chunk goes
 * back to the kernel when its last object is freed (but the slab keeps one); the counts
 * follow every call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hs_slab.h"

#define CHUNK (64 * 1024)

static void test_alloc_zeroed_distinct_aligned(void **state)
{
    (void)state;
    hs_slab *slab = hs_slab_new(40); /* rounded up to 48 */
    enum { N = 5000 };
    unsigned char **objs = calloc(N, sizeof(*objs));
    for (int i = 0; i < N; i++) {
        objs[i] = hs_slab_alloc(slab);
        assert_non_null(objs[i]);
        assert_int_equal((uintptr_t)objs[i] % 16, 0);
        for (int j = 0; j < 48; j++)
            assert_int_equal(objs[i][j], 0);
        memset(objs[i], 0xA5, 48); /* dirty it: the next owner must get zeroes again */
    }
    /* No two objects overlap: sorted, each starts at least 48 bytes after the last. */
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N && j < i + 64; j++) {
            uintptr_t a = (uintptr_t)objs[i], b = (uintptr_t)objs[j];
            assert_true(a + 48 <= b || b + 48 <= a);
        }
    assert_int_equal(hs_slab_count(slab), N);
    /* 5000 objects of 48 bytes need 4 chunks of 64 KiB (1,364 a chunk). */
    assert_int_equal(hs_slab_mapped(slab), 4 * CHUNK);
    hs_slab_put(slab, objs[17]);
    unsigned char *again = hs_slab_alloc(slab);
    assert_ptr_equal(again, objs[17]); /* a freed slot is reused first */
    for (int j = 0; j < 48; j++)
        assert_int_equal(again[j], 0);
    for (int i = 0; i < N; i++)
        hs_slab_put(slab, objs[i]);
    assert_int_equal(hs_slab_count(slab), 0);
    /* Every chunk emptied went back except one kept for the next allocation. */
    assert_int_equal(hs_slab_mapped(slab), CHUNK);
    free(objs);
    hs_slab_free(slab);
}

static void test_chunk_returned_when_empty(void **state)
{
    (void)state;
    hs_slab *slab = hs_slab_new(1024);
    /* 63 objects of 1 KiB fit in a chunk after its header: fill two chunks and a bit. */
    void *objs[140];
    for (int i = 0; i < 140; i++)
        objs[i] = hs_slab_alloc(slab);
    assert_int_equal(hs_slab_mapped(slab), 3 * CHUNK);
    /* Free the middle chunk's objects only: that chunk is unmapped, the others stay. */
    for (int i = 63; i < 126; i++)
        hs_slab_put(slab, objs[i]);
    assert_int_equal(hs_slab_mapped(slab), 2 * CHUNK);
    assert_int_equal(hs_slab_count(slab), 140 - 63);
    /* The survivors still hold what was written into them. */
    for (int i = 0; i < 63; i++)
        memset(objs[i], i, 1024);
    for (int i = 0; i < 63; i++)
        assert_int_equal(((unsigned char *)objs[i])[1023], i);
    hs_slab_put(slab, NULL); /* allowed */
    hs_slab_free(slab);      /* with objects still in it: every chunk goes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_zeroed_distinct_aligned),
        cmocka_unit_test(test_chunk_returned_when_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
