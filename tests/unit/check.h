/* Minimal test harness: CHECK records a failure with file:line and keeps going; main returns the verdict. */
#ifndef KILN_TEST_CHECK_H
#define KILN_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                              \
    do {                                                                                                         \
        check_count++;                                                                                           \
        if (!(cond)) {                                                                                           \
            check_failures++;                                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                             \
        }                                                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                    \
    do {                                                                                                         \
        double check_a_ = (a), check_b_ = (b);                                                                   \
        check_count++;                                                                                           \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                                             \
            check_failures++;                                                                                    \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %g, %s = %g\n", __FILE__, __LINE__, #a, check_a_, #b, \
                    check_b_);                                                                                   \
        }                                                                                                        \
    } while (0)

#define CHECK_DONE()                                                                                             \
    (fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures),                                     \
     check_count == 0 ? 1 : (check_failures ? 1 : 0))

#endif
