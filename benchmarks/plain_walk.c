/*
 * plain_walk: a plain C implementation of Lunnon's map-folding walk, the baseline for `make bench`.
 *
 * Usage: plain_walk SIDE [SIDE ...]      e.g. `plain_walk 2 13` for a 2 x 13 map.
 * Prints one JSON line: {"folds": <total>, "seconds": <compute seconds, CLOCK_MONOTONIC>}.
 *
 * Deliberately straightforward (see /work/shared/MAPFOLDING.md): a connection graph D[dim][leaf][m],
 * a cyclic doubly linked pile through sentinel leaf 0, a gap stack of N*N+1 entries, a per-leaf
 * gap-start array `gapter`, and a per-gap `count` filter. Only foldings with leaf 1 directly below
 * the sentinel are walked, and each complete one stands for N foldings. No 64-bit masks, no
 * last-leaf shortcut, no symmetry halving.
 */
#define _POSIX_C_SOURCE 199309L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Index into the flattened connection graph D[dimension][leaf][other], all 0..leaves inclusive. */
#define GRAPH(dimension, leaf, other) \
    connection_graph[((size_t)(dimension) * (size_t)(leaves + 1) + (size_t)(leaf)) * (size_t)(leaves + 1) + (size_t)(other)]

static double monotonic_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

static void *checked_calloc(size_t count, size_t size) {
    void *memory = calloc(count, size);
    if (memory == NULL) {
        fprintf(stderr, "plain_walk: out of memory\n");
        exit(1);
    }
    return memory;
}

/* Count the foldings of a map with these sides (dimension 0 varies fastest in leaf numbering). */
static uint64_t count_foldings(const int *sides, int dimensions) {
    int leaves = 1;
    for (int dimension = 0; dimension < dimensions; dimension++) {
        leaves *= sides[dimension];
    }
    if (leaves == 1) {
        return 1;
    }

    /* stride[d] = product of the sides before dimension d; coordinate[d][m] is leaf m's 1-based coordinate. */
    int *stride = checked_calloc((size_t)dimensions + 1, sizeof(int));
    int *coordinate = checked_calloc((size_t)dimensions * (size_t)(leaves + 1), sizeof(int));
    int *connection_graph = checked_calloc((size_t)dimensions * (size_t)(leaves + 1) * (size_t)(leaves + 1), sizeof(int));
    stride[0] = 1;
    for (int dimension = 0; dimension < dimensions; dimension++) {
        stride[dimension + 1] = stride[dimension] * sides[dimension];
        for (int leaf = 1; leaf <= leaves; leaf++) {
            coordinate[dimension * (leaves + 1) + leaf] = ((leaf - 1) / stride[dimension]) % sides[dimension] + 1;
        }
    }

    /* D[d][l][m]: the leaf connected to m in dimension d that the walk for leaf l visits after m
     * (m itself when the connection does not exist yet, i.e. it would be a leaf above l). */
    for (int dimension = 0; dimension < dimensions; dimension++) {
        const int *coordinates = coordinate + dimension * (leaves + 1);
        for (int leaf = 1; leaf <= leaves; leaf++) {
            for (int other = 1; other <= leaves; other++) {
                int difference = coordinates[leaf] - coordinates[other];
                int connected;
                if ((difference & 1) == 0) {
                    connected = (coordinates[other] == 1) ? other : other - stride[dimension];
                } else {
                    connected = (coordinates[other] == sides[dimension] || other + stride[dimension] > leaf)
                                    ? other
                                    : other + stride[dimension];
                }
                GRAPH(dimension, leaf, other) = connected;
            }
        }
    }

    int *leaf_above = checked_calloc((size_t)leaves + 1, sizeof(int));
    int *leaf_below = checked_calloc((size_t)leaves + 1, sizeof(int));
    int *gap_count = checked_calloc((size_t)leaves + 1, sizeof(int));
    int *gapter = checked_calloc((size_t)leaves + 1, sizeof(int));
    int *gap = checked_calloc((size_t)leaves * (size_t)leaves + 1, sizeof(int));

    uint64_t complete_foldings = 0;
    int gap_top = 0; /* one past the last unused gap on the stack */
    int leaf = 1;    /* the leaf being placed */
    while (leaf > 0) {
        if (leaf <= 1 || leaf_below[0] == 1) {
            if (leaf > leaves) {
                complete_foldings++;
            } else {
                int unconstrained_dimensions = 0;
                int gap_candidates_end = gapter[leaf - 1];
                gap_top = gap_candidates_end;
                for (int dimension = 0; dimension < dimensions; dimension++) {
                    int other = GRAPH(dimension, leaf, leaf);
                    if (other == leaf) {
                        unconstrained_dimensions++;
                    } else {
                        while (other != leaf) {
                            gap[gap_candidates_end] = other;
                            if (gap_count[other] == 0) {
                                gap_candidates_end++;
                            }
                            gap_count[other]++;
                            other = GRAPH(dimension, leaf, leaf_below[other]);
                        }
                    }
                }
                if (unconstrained_dimensions == dimensions) {
                    for (int position = 0; position < leaf; position++) {
                        gap[gap_candidates_end++] = position;
                    }
                }
                /* Keep only the candidates that every constrained dimension allows. */
                for (int candidate = gap_top; candidate < gap_candidates_end; candidate++) {
                    int position = gap[candidate];
                    gap[gap_top] = position;
                    if (gap_count[position] == dimensions - unconstrained_dimensions) {
                        gap_top++;
                    }
                    gap_count[position] = 0;
                }
            }
        }
        /* Backtrack while the current leaf has no untried gap left. */
        while (leaf > 0 && gap_top == gapter[leaf - 1]) {
            leaf--;
            leaf_below[leaf_above[leaf]] = leaf_below[leaf];
            leaf_above[leaf_below[leaf]] = leaf_above[leaf];
        }
        if (leaf > 0) {
            /* Insert the leaf below the leaf named by the next gap, and go one leaf deeper. */
            gap_top--;
            leaf_above[leaf] = gap[gap_top];
            leaf_below[leaf] = leaf_below[leaf_above[leaf]];
            leaf_below[leaf_above[leaf]] = leaf;
            leaf_above[leaf_below[leaf]] = leaf;
            gapter[leaf] = gap_top;
            leaf++;
        }
    }

    free(gap);
    free(gapter);
    free(gap_count);
    free(leaf_below);
    free(leaf_above);
    free(connection_graph);
    free(coordinate);
    free(stride);
    return complete_foldings * (uint64_t)leaves;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SIDE [SIDE ...]   (e.g. %s 2 13)\n", argv[0], argv[0]);
        return 2;
    }
    int dimensions = argc - 1;
    int *sides = checked_calloc((size_t)dimensions, sizeof(int));
    long leaves = 1;
    for (int dimension = 0; dimension < dimensions; dimension++) {
        char *end = NULL;
        errno = 0;
        long side = strtol(argv[dimension + 1], &end, 10);
        if (errno != 0 || end == argv[dimension + 1] || *end != '\0' || side < 1 || side > 1000) {
            fprintf(stderr, "plain_walk: bad side '%s' (want a whole number >= 1)\n", argv[dimension + 1]);
            return 2;
        }
        sides[dimension] = (int)side;
        leaves *= side;
        if (leaves > 4096) {
            fprintf(stderr, "plain_walk: map too large\n");
            return 2;
        }
    }

    double started = monotonic_seconds();
    uint64_t folds = count_foldings(sides, dimensions);
    double seconds = monotonic_seconds() - started;

    printf("{\"folds\": %llu, \"seconds\": %.6f}\n", (unsigned long long)folds, seconds);
    free(sides);
    return 0;
}
