# %% [markdown]
# # 10 · Tokenization
#
# A language model reads integers; a **tokenizer** maps a string to token ids and back, losing nothing:
# `decode(encode(s)) == s`. A **character tokenizer** gives each character of a training text an id
# (small vocabulary, long sequences, unseen characters unknown). **Byte-level BPE** (Sennrich et al.,
# 2016; GPT-2) starts from the 256 bytes of UTF-8 and *learns* merges: the most frequent adjacent pair
# becomes a new token, again and again. Frequent words become one token, rare ones pieces, none unknown.

# %%
#| default_exp tokenization
#| export
import numpy as np

# %% [markdown]
# ## Characters
# Sorted characters make the ids reproducible; one extra id, the last, is the unknown character (U+FFFD).

# %% solution id="char-tokenizer"
#| export
class CharTokenizer:
    """Character-level tokenizer built from a training text.

    __init__(text): the distinct characters of `text` in sorted order get ids 0, 1, ...;
        `self.vocab_size` is their number plus one: the last id is the unknown token.
        Stores `self.stoi` (char -> id) and `self.itos` (list: id -> char, "\\ufffd" for unknown).
    encode(text) -> list of ints; a character not in the vocabulary becomes the unknown id.
    decode(ids) -> str; an id outside 0..vocab_size-1 raises ValueError naming it.
    EXAMPLE: tok = CharTokenizer("hello"); tok.vocab_size -> 5; tok.encode("hole") -> [1, 3, 2, 0]
             tok.encode("hi") -> [1, 4]; tok.decode([1, 4]) -> "h\\ufffd"; tok.encode("") -> []
    HINT: `sorted(set(text))`; a dict comprehension over `enumerate`.
    """

    def __init__(self, text):
        ### BEGIN SOLUTION
        chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(chars)}
        self.itos = chars + ["\ufffd"]
        self.vocab_size = len(self.itos)
        ### END SOLUTION

    def encode(self, text):
        ### BEGIN SOLUTION
        unknown = self.vocab_size - 1
        return [self.stoi.get(ch, unknown) for ch in text]
        ### END SOLUTION

    def decode(self, ids):
        ### BEGIN SOLUTION
        out = []
        for i in ids:
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token id {i} is outside the vocabulary (0..{self.vocab_size - 1})")
            out.append(self.itos[i])
        return "".join(out)
        ### END SOLUTION

# %% helper
def raises(fn, exc=ValueError):
    """Call fn(); return the message of the `exc` it must raise (AssertionError if it does not)."""
    try:
        fn()
    except exc as e:
        return str(e)
    raise AssertionError(f"expected {exc.__name__} to be raised")

# %% test id="test-char-tokenizer" points=2
tok = CharTokenizer("hello")
assert tok.vocab_size == 5, f"expected 4 characters + 1 unknown = 5, got {tok.vocab_size}"
assert tok.encode("hole") == [1, 3, 2, 0], f"sorted ids e=0 h=1 l=2 o=3: expected [1, 3, 2, 0], got {tok.encode('hole')}"
assert tok.decode([1, 0, 2, 2, 3]) == "hello", f"expected 'hello', got {tok.decode([1, 0, 2, 2, 3])!r}"
assert tok.encode("") == [] and tok.decode([]) == "", "the empty string encodes to [] and back"
### BEGIN HIDDEN TESTS
assert (got := tok.encode("hi!")) == [1, 4, 4], f"unseen characters become the last id (4), got {got}"
assert tok.decode(got) == "h\ufffd\ufffd", f"the unknown id decodes to U+FFFD, got {tok.decode(got)!r}"
t2, s = CharTokenizer("zébra ☃ zèbre"), "èbre ☃ zébra"
assert t2.decode(t2.encode(s)) == s and t2.vocab_size == 10, f"round trip of {s!r}: {t2.decode(t2.encode(s))!r}"
assert t2.stoi[" "] == 0 and t2.itos[-1] == "\ufffd", "ids follow the sorted characters"
for bad in (5, -1):
    msg = raises(lambda: tok.decode([bad]))
    assert str(bad) in msg, f"the error should name the id {bad}: {msg}"
### END HIDDEN TESTS

# %% [markdown]
# ## Bytes and pairs
# UTF-8 turns any string into 1 to 4 bytes per character ("é" is 2, "☃" is 3), so 256 byte values cover
# everything. BPE training repeats: count the adjacent pairs; give the most frequent pair $(a, b)$ (a tie
# goes to the first) the next free id $n$ and replace each $a\,b$ by $n$, **left to right, without overlaps**.

# %% solution id="bpe-pairs"
#| export
def get_pair_counts(ids):
    """Count adjacent pairs: dict (a, b) -> how often b directly follows a in the list `ids`.

    Keys are in order of first occurrence. Fewer than two ids give {}.
    EXAMPLE: get_pair_counts([1, 2, 3, 1, 2]) -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    HINT: `zip` a list with itself shifted by one.
    """
    ### BEGIN SOLUTION
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    ### END SOLUTION

def merge_pair(ids, pair, new_id):
    """A new list in which each occurrence of `pair` in `ids` is replaced by `new_id`.

    Scans left to right; occurrences do not overlap. `ids` itself is not modified.
    EXAMPLE: merge_pair([5, 6, 5, 6, 7], (5, 6), 300) -> [300, 300, 7]
             merge_pair([7, 7, 7], (7, 7), 256) -> [256, 7]
    HINT: a while loop with an index that advances by 2 after a match, by 1 otherwise.
    """
    ### BEGIN SOLUTION
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION

# %% test id="test-bpe-pairs" points=2
assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}, f"got {get_pair_counts([1, 2, 3, 1, 2])}"
assert merge_pair([5, 6, 5, 6, 7], (5, 6), 300) == [300, 300, 7], f"expected [300, 300, 7], got {merge_pair([5, 6, 5, 6, 7], (5, 6), 300)}"
assert (got := merge_pair([7, 7, 7], (7, 7), 256)) == [256, 7], f"occurrences must not overlap: expected [256, 7], got {got}"
### BEGIN HIDDEN TESTS
assert get_pair_counts([4]) == {} and get_pair_counts([]) == {}, "fewer than two ids have no pairs"
assert get_pair_counts([9, 9, 9, 9]) == {(9, 9): 3}, f"counting does not skip overlaps: got {get_pair_counts([9, 9, 9, 9])}"
assert list(get_pair_counts([3, 1, 2, 3, 1])) == [(3, 1), (1, 2), (2, 3)], "keys in order of first occurrence"
ids = [1, 2, 1, 2]
got = merge_pair(ids, (1, 2), 9)
assert got == [9, 9] and ids == [1, 2, 1, 2], f"expected [9, 9] and the input untouched, got {got}, {ids}"
for ids, exp in [([1], [1]), ([], []), ([2, 1], [2, 1]), ([3, 1, 2], [3, 9]), ([1, 2, 2], [9, 2]), ([1, 1, 2], [1, 9])]:
    got = merge_pair(ids, (1, 2), 9)
    assert got == exp, f"merge_pair({ids}, (1, 2), 9): expected {exp}, got {got}"
assert merge_pair([7, 7, 7, 7], (7, 7), 256) == [256, 256], f"got {merge_pair([7, 7, 7, 7], (7, 7), 256)}"
### END HIDDEN TESTS

# %% [markdown]
# ## Byte-level BPE
# `train(text)` learns up to `vocab_size - 256` merges, in order, into `self.merges` (dict `(a, b) -> new
# id`, ids 256, 257, ...) and `self.vocab` (id -> its bytes, `vocab[n] = vocab[a] + vocab[b]`); it stops
# early when the best pair occurs fewer than two times. **Encoding** replays the merges in learned order:
# while some adjacent pair is in `merges`, merge the one with the **smallest** new id. **Decoding** joins
# the bytes and decodes UTF-8 with `errors="replace"` (a made-up id sequence may cut a character in half).

# %% solution id="bpe"
#| export
class BPETokenizer:
    """Byte-level byte-pair encoding.

    __init__(vocab_size): stores the target size as `self.target_size`, at least 256 (ValueError
        otherwise). Untrained: `merges` is empty, `vocab` maps each of the 256 byte values to itself.
    vocab_size (property): the number of ids in use, 256 + len(merges).
    train(text) -> self: forgets earlier merges, then learns them as described above.
    encode(text) -> list of ints, never fails; decode(ids) -> str, ValueError naming an unknown id.
    EXAMPLE: tok = BPETokenizer(258).train("aaabdaaabac")   # bytes: a=97, b=98
             tok.merges -> {(97, 97): 256, (256, 97): 257}; tok.encode("aaab") -> [257, 98]
             tok.decode([257, 98]) -> "aaab"
    HINT: `str.encode("utf-8")` gives bytes, `list(b)` their ints, `bytes.decode("utf-8", errors=...)`.
          `min` and `max` take a `key` function; `max` returns the first of equal maxima.
    """

    def __init__(self, vocab_size):
        ### BEGIN SOLUTION
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the byte tokens), got {vocab_size}")
        self.target_size = vocab_size
        self.merges = {}
        self.vocab = {i: bytes([i]) for i in range(256)}
        ### END SOLUTION

    @property
    def vocab_size(self):
        ### BEGIN SOLUTION
        return 256 + len(self.merges)
        ### END SOLUTION

    def train(self, text):
        ### BEGIN SOLUTION
        merges, vocab = {}, {b: bytes([b]) for b in range(256)}
        ids = list(text.encode("utf-8"))
        for new_id in range(256, self.target_size):
            counts = get_pair_counts(ids)
            if not counts:
                break
            pair = max(counts, key=counts.get)
            if counts[pair] < 2:
                break
            ids = merge_pair(ids, pair, new_id)
            merges[pair] = new_id
            vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        self.merges, self.vocab = merges, vocab
        return self
        ### END SOLUTION

    def encode(self, text):
        ### BEGIN SOLUTION
        ids = list(text.encode("utf-8"))
        while len(ids) >= 2:
            pairs = get_pair_counts(ids)
            pair = min(pairs, key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge_pair(ids, pair, self.merges[pair])
        return ids
        ### END SOLUTION

    def decode(self, ids):
        ### BEGIN SOLUTION
        unknown = [i for i in ids if i not in self.vocab]
        if unknown:
            raise ValueError(f"token id {unknown[0]} is not in the vocabulary of {self.vocab_size} ids")
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")
        ### END SOLUTION

# %% test id="test-bpe" points=4
tok = BPETokenizer(258).train("aaabdaaabac")
assert tok.merges == {(97, 97): 256, (256, 97): 257}, f"expected {{(97, 97): 256, (256, 97): 257}}, got {tok.merges}"
assert tok.vocab_size == 258 and tok.vocab[257] == b"aaa", f"expected 258 ids and vocab[257] == b'aaa', got {tok.vocab_size}, {tok.vocab.get(257)}"
assert tok.encode("aaab") == [257, 98], f"expected [257, 98], got {tok.encode('aaab')}"
for s in ["aaab", "", "naïve café ☃ 日本語 🙂", "\x00\n\t"]:
    assert tok.decode(tok.encode(s)) == s, f"round trip of {s!r} gave {tok.decode(tok.encode(s))!r}"
### BEGIN HIDDEN TESTS
assert BPETokenizer(300).vocab_size == 256 and BPETokenizer(300).encode("é") == [195, 169], "untrained: raw UTF-8 bytes"
raises(lambda: BPETokenizer(100))
assert BPETokenizer(256).train("aaaa").merges == {}, "vocab_size 256 is allowed: bytes only, no merges"
short = BPETokenizer(400).train("abab")
assert short.merges == {(97, 98): 256}, f"stop when the best pair occurs once: expected {{(97, 98): 256}}, got {short.merges}"
assert BPETokenizer(400).train("").vocab_size == 256 and BPETokenizer(400).train("x").merges == {}, "nothing to merge"
tie = BPETokenizer(257).train("zzxyzzxy")
assert tie.merges == {(122, 122): 256}, f"a tie goes to the pair that occurs first, got {tie.merges}"
again = tok.train("zzzz zzzz")
assert again is tok and 257 in tok.vocab and (97, 97) not in tok.merges, "train returns self and forgets earlier merges"
assert tok.merges == {(122, 122): 256, (256, 256): 257}, f"expected {{(122, 122): 256, (256, 256): 257}}, got {tok.merges}"
order = BPETokenizer(259).train("abcabcabcab")
assert order.merges == {(97, 98): 256, (256, 99): 257, (257, 257): 258}, f"got {order.merges}"
assert order.encode("bcab") == [98, 99, 256], f"replay merges by rank: expected [98, 99, 256], got {order.encode('bcab')}"
assert order.encode("abcabc") == [258] and order.encode("abcab") == [257, 256], f"got {order.encode('abcabc')}, {order.encode('abcab')}"
uni = BPETokenizer(270).train("日本語 日本語 日本 ☃☃☃")
for s in ["日本語", "日本人 ☃", "\ud7ff", "", " "]:
    assert uni.decode(uni.encode(s)) == s, f"round trip of {s!r}"
assert uni.decode([230]) == "\ufffd", "half a character decodes to U+FFFD"
assert "99999" in raises(lambda: uni.decode([99999])), "decode of an unknown id raises ValueError naming it"
### END HIDDEN TESTS

# %% [markdown]
# ## Systems note: vocabulary size against sequence length
# Attention (module 12) costs $O(T^2)$ in the sequence length $T$; the embedding table and output
# layer cost $O(V)$ in the vocabulary size $V$. Every merge adds an id and shortens sequences. BPE
# trained on part of Python's own documentation (`pydoc_data`), measured on a part it never saw:

# %%
import time
import matplotlib.pyplot as plt
from pydoc_data.topics import topics

corpus = "\n".join(topics[k] for k in sorted(topics))
train_text, held_out = corpus[:20000], corpus[200000:210000]
start = time.perf_counter()
bpe = BPETokenizer(256 + 200).train(train_text)
train_s, learned, sizes, ratios = time.perf_counter() - start, list(bpe.merges.items()), [], []
for k in range(0, len(learned) + 1, 20):
    partial = BPETokenizer(256 + k)
    partial.merges, partial.vocab = dict(learned[:k]), bpe.vocab
    sizes.append(256 + k)
    ratios.append(len(held_out.encode("utf-8")) / len(partial.encode(held_out)))
print(f"{len(learned)} merges learned from {len(train_text)} characters in {train_s:.2f} s; longest tokens:",
      sorted((bpe.vocab[i] for i in range(256, bpe.vocab_size)), key=len)[-5:])
print(f"held-out text: {len(held_out)} characters (vocabulary {CharTokenizer(train_text).vocab_size}), "
      f"{len(bpe.encode(held_out))} BPE tokens (vocabulary {bpe.vocab_size}, {ratios[-1]:.2f} bytes per token)")
plt.plot(sizes, ratios, marker="o")
plt.gca().set(xlabel="vocabulary size (256 bytes + merges)", ylabel="held-out bytes per token",
              title="each merge shortens unseen text")
plt.show()
