"""The similarity kernel: arrays in, arrays out; no I/O, no logging, no state.

Token and shingle hashing from text bytes, MinHash signatures, LSH band keys and
candidate pairs, Jaccard estimates, and sparse cosine similarities. Each function
has a slow, obvious twin in :mod:`storyclust._reference` that the tests compare it
against. The hot loops are compiled with numba (cached on disk after the first
call) and release the GIL, so long inputs are split over threads; the result does
not depend on the number of threads.

This module is the kernel's public surface: import from here. The code lives in
private modules, one responsibility each:

====================  ==============================================================
module                holds
====================  ==============================================================
``_kernel_text``      hash_token_text, hash_raw_text, raw_words, term_counts,
                      names_raw_text, line_hashes, strip_line_hashes
``_kernel_minhash``   shingle_hashes, minhash_params, minhash_signatures,
                      text_signatures, lsh_params, band_keys, band_candidates,
                      jaccard_estimates
``_kernel_cosine``    cosine_pairs, cosine_neighbors, cosine_candidates,
                      prefix_matrix, top_per_row, and their compiled loops
``_kernel_linkage``   average_linkage, flat_clusters, and their compiled loops
``_kernel_scan``      the compiled loops behind ``_kernel_text`` and
                      ``_kernel_minhash``, and the hash constants (``EMPTY_VALUE``)
``_kernel_base``      array types, the numba decorator, threads over document ranges
====================  ==============================================================

Hash scheme (``"storyclust"``): tokens are hashed with 64-bit FNV-1a over their
UTF-8 bytes (as :func:`storyclust.text.hash_strings`); a shingle of k tokens folds
its token hashes with FNV-style xor-multiply and a splitmix64 finaliser;
permutation p maps a shingle hash x to ``(a_p * x + b_p) mod 2**64 >> 32``
(multiply-shift hashing, a_p odd), with a_p, b_p drawn from
``numpy.random.PCG64(seed)``. The signature of a document with no shingles is all
``EMPTY_VALUE``.

Costs (n documents, T tokens, S shingles, B text bytes, P permutations, b bands;
measured figures in ``benchmarks/results/similarity.md``):

=========================  ==========================  =============================
function                   time                        memory besides the output
=========================  ==========================  =============================
hash_token_text            O(B)                        O(n)
hash_raw_text              O(B)                        O(n)
shingle_hashes             O(S * k)                    O(n)
minhash_signatures         O(S * P), vectorised over   O(P) per thread
                           the permutations
text_signatures            O(B + S * (k + P)), fused   O(longest document) per thread
lsh_params                 O(P log P) integrals        O(1)
band_keys                  O(n * b * rows)             O(n * b)
band_candidates            O(b * n log n) sorting      O(n + candidate pairs)
jaccard_estimates          O(pairs * P)                O(pairs + P * 16,384)
cosine_pairs               O(pairs * row nnz)          O(chunk * row nnz)
cosine_neighbors           sum over features of        O(nnz) index, O(n) per
                           df**2 multiply-adds         thread; no n x n matrix
prefix_matrix              O(nnz) selection            none
cosine_candidates          per row and prefix feature: O(n * max_terms) prefix
                           the postings within the     index, O(n) per thread
                           horizon (at most
                           2 * max_nearby + 1), and
                           O(pairs * row nnz)
term_counts                O(T + terms log terms)      O(T)
average_linkage            O(m**2) (nearest-neighbour  O(m); the input is
                           chain)                      overwritten, not copied
names_raw_text             O(B), one pass              O(longest document)
line_hashes                O(B), one pass              O(n)
strip_line_hashes          O(B)                        O(B) output
raw_words                  O(B)                        O(B) folded words
=========================  ==========================  =============================
"""

from ._kernel_cosine import (
    cosine_candidates,
    cosine_neighbors,
    cosine_pairs,
    prefix_matrix,
    top_per_row,
)
from ._kernel_linkage import average_linkage, flat_clusters
from ._kernel_minhash import (
    band_candidates,
    band_keys,
    jaccard_estimates,
    lsh_params,
    minhash_params,
    minhash_signatures,
    shingle_hashes,
    text_signatures,
)
from ._kernel_scan import EMPTY_VALUE
from ._kernel_text import (
    hash_raw_text,
    hash_token_text,
    line_hashes,
    names_raw_text,
    raw_words,
    strip_line_hashes,
    term_counts,
)

__all__ = [
    "EMPTY_VALUE",
    "average_linkage",
    "band_candidates",
    "band_keys",
    "cosine_candidates",
    "cosine_neighbors",
    "cosine_pairs",
    "flat_clusters",
    "hash_raw_text",
    "hash_token_text",
    "jaccard_estimates",
    "line_hashes",
    "lsh_params",
    "minhash_params",
    "minhash_signatures",
    "names_raw_text",
    "prefix_matrix",
    "raw_words",
    "shingle_hashes",
    "strip_line_hashes",
    "term_counts",
    "text_signatures",
    "top_per_row",
]
