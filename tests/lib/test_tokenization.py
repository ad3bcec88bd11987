"""tinytorch_lib.tokenization (module 10): the round trip on arbitrary text (hypothesis), hand-worked
merges, unseen text never fails."""
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch_lib.tokenization import BPETokenizer, CharTokenizer, get_pair_counts, merge_pair

TRAIN = "the cat sat on the mat; le chat était là. 日本語のテキスト ☃☃ 🙂🙂 " * 3
BPE = BPETokenizer(256 + 60).train(TRAIN)
CHARS = CharTokenizer(TRAIN)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_bpe_round_trip_on_any_string(s):
    ids = BPE.encode(s)
    assert all(0 <= i < BPE.vocab_size for i in ids)
    assert BPE.decode(ids) == s


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=30), st.integers(256, 280))
def test_bpe_trained_on_any_string_round_trips_itself(s, size):
    tok = BPETokenizer(size).train(s)
    assert tok.vocab_size <= size
    assert tok.decode(tok.encode(s)) == s
    assert len(tok.encode(s)) <= len(s.encode("utf-8"))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=sorted(set(TRAIN))))
def test_char_round_trip_over_its_alphabet(s):
    assert CHARS.decode(CHARS.encode(s)) == s


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_char_unseen_text_never_fails(s):
    ids = CHARS.encode(s)
    assert len(ids) == len(s) and all(0 <= i < CHARS.vocab_size for i in ids)
    out = CHARS.decode(ids)
    assert len(out) == len(s)
    assert all(a == b or (a not in CHARS.stoi and b == "\ufffd") for a, b in zip(s, out))


def test_hand_worked_merges():
    tok = BPETokenizer(258).train("aaabdaaabac")
    assert tok.merges == {(97, 97): 256, (256, 97): 257}
    assert tok.encode("aaab") == [257, 98] and tok.decode([257, 98]) == "aaab"
    assert BPETokenizer(400).train("abab").merges == {(97, 98): 256}
    assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert merge_pair([7, 7, 7], (7, 7), 256) == [256, 7]


def test_empty_and_edge_cases():
    assert BPE.encode("") == [] and BPE.decode([]) == ""
    assert CHARS.encode("") == [] and CHARS.decode([]) == ""
    assert BPE.decode([0xE6]) == "\ufffd"            # half a character: replaced, no exception
    assert BPETokenizer(300).vocab_size == 256


def test_errors_name_the_problem():
    import pytest
    with pytest.raises(ValueError, match="256"):
        BPETokenizer(10)
    with pytest.raises(ValueError, match="99999"):
        BPE.decode([99999])
    with pytest.raises(ValueError, match=str(CHARS.vocab_size)):
        CHARS.decode([CHARS.vocab_size])
